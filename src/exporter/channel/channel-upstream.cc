#include "exporter/channel/channel-upstream.hh"

#include <httplib.h>

#include <cctype>

#include "common/error.hh"

namespace nixmon::exporter {

std::optional<SplitUrl> split_http_url(std::string_view url) {
  std::string_view rest;
  if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
  } else {
    return std::nullopt;
  }
  auto slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  if (host.empty()) return std::nullopt;
  SplitUrl out;
  out.scheme_host_port = std::string(url.substr(0, url.size() - rest.size())) + std::string(host);
  out.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  return out;
}

std::optional<std::string> parse_git_revision(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  if (text.size() < 7 || text.size() > 64) return std::nullopt;
  std::string out;
  for (char c : text) {
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

UpstreamFetch::UpstreamFetch() = default;
UpstreamFetch::~UpstreamFetch() = default;

void UpstreamFetch::cancel() {
  std::lock_guard lock(mutex_);
  cancelled_ = true;
  if (active_) active_->stop();
}

UpstreamResult UpstreamFetch::fetch(const std::string& channel_url,
                                    std::chrono::milliseconds timeout) {
  auto split = split_http_url(channel_url);
  if (!split) return {"unsupported", std::nullopt, "not an http(s) URL: " + channel_url};
  std::string path = split->path;
  if (path.empty() || path.back() != '/') path += '/';
  path += "git-revision";

  httplib::Client client(split->scheme_host_port);
  if (!client.is_valid())
    return {"unsupported", std::nullopt, "no HTTP client for " + split->scheme_host_port};
  auto sec = static_cast<time_t>(timeout.count() / 1000);
  auto usec = static_cast<time_t>(timeout.count() % 1000 * 1000);
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
  client.set_follow_location(true);
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) return {"failed", std::nullopt, "cancelled"};
    active_ = &client;
  }
  // A git-revision file is 41 bytes: a body past 4 KiB is no such file, stop reading it.
  constexpr std::size_t max_body = 4096;
  std::string body;
  bool too_large = false;
  auto res = client.Get(path, [&](const char* data, std::size_t len) {
    if (body.size() + len > max_body) {
      too_large = true;
      return false;
    }
    body.append(data, len);
    return true;
  });
  {
    std::lock_guard lock(mutex_);
    active_ = nullptr;
  }
  std::string where = split->scheme_host_port + path;
  if (too_large)
    return {"bad_output", std::nullopt, fmt::format("{}: more than {} bytes", where, max_body)};
  if (!res)
    return {"failed", std::nullopt, fmt::format("{}: {}", where, httplib::to_string(res.error()))};
  if (res->status != 200)
    return {"http_error", std::nullopt, fmt::format("{}: HTTP status {}", where, res->status)};
  auto rev = parse_git_revision(body);
  if (!rev) return {"bad_output", std::nullopt, where + ": not a git revision"};
  return {"success", std::move(rev), ""};
}

}  // namespace nixmon::exporter
