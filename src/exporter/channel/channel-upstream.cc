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

// One GET without following redirects; `stop()` of the client published in active_ ends it.
UpstreamFetch::Reply UpstreamFetch::get_once(const SplitUrl& url,
                                             std::chrono::milliseconds timeout) {
  Reply reply;
  httplib::Client client(url.scheme_host_port);
  if (!client.is_valid()) {
    reply.result = "unsupported";
    reply.detail = "no HTTP client for " + url.scheme_host_port;
    return reply;
  }
  auto sec = static_cast<time_t>(timeout.count() / 1000);
  auto usec = static_cast<time_t>(timeout.count() % 1000 * 1000);
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
  {
    std::lock_guard lock(mutex_);
    if (cancelled_) {
      reply.result = "failed";
      reply.detail = "cancelled";
      return reply;
    }
    active_ = &client;
  }
  // A git-revision file is 41 bytes: a body past 4 KiB is no such file, stop reading it.
  auto res = client.Get(url.path, [&](const char* data, std::size_t len) {
    if (reply.body.size() + len > max_body) {
      reply.too_large = true;
      return false;
    }
    reply.body.append(data, len);
    return true;
  });
  {
    std::lock_guard lock(mutex_);
    active_ = nullptr;
  }
  if (reply.too_large) return reply;
  if (!res) {
    reply.result = "failed";
    reply.detail = httplib::to_string(res.error());
    return reply;
  }
  reply.status = res->status;
  if (res->has_header("Location")) reply.location = res->get_header_value("Location");
  return reply;
}

UpstreamResult UpstreamFetch::fetch(const std::string& channel_url,
                                    std::chrono::milliseconds timeout) {
  auto split = split_http_url(channel_url);
  if (!split) return {"unsupported", std::nullopt, "not an http(s) URL: " + channel_url};
  if (split->path.empty() || split->path.back() != '/') split->path += '/';
  split->path += "git-revision";

  // Redirects are followed here, not by cpp-httplib: its redirect runs in a client of its own
  // that cancel() cannot reach, and channels.nixos.org always redirects (to releases.nixos.org),
  // so a slow release server would hold the exporter's shutdown for the whole timeout.
  SplitUrl url = *split;
  for (int hop = 0;; ++hop) {
    std::string where = url.scheme_host_port + url.path;
    Reply r = get_once(url, timeout);
    if (r.too_large)
      return {"bad_output", std::nullopt, fmt::format("{}: more than {} bytes", where, max_body)};
    if (!r.result.empty()) return {r.result, std::nullopt, fmt::format("{}: {}", where, r.detail)};
    if (r.status >= 300 && r.status < 400 && r.location) {
      if (hop == max_redirects)
        return {"failed", std::nullopt,
                fmt::format("{}: more than {} redirects", where, max_redirects)};
      if (auto next = split_http_url(*r.location)) {
        url = *next;
      } else if (r.location->starts_with("/")) {
        url.path = *r.location;
      } else {
        url.path = url.path.substr(0, url.path.rfind('/') + 1) + *r.location;
      }
      continue;
    }
    if (r.status != 200)
      return {"http_error", std::nullopt, fmt::format("{}: HTTP status {}", where, r.status)};
    auto rev = parse_git_revision(r.body);
    if (!rev) return {"bad_output", std::nullopt, where + ": not a git revision"};
    return {"success", std::move(rev), ""};
  }
}

}  // namespace nixmon::exporter
