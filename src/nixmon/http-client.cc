#include "nixmon/http-client.hh"

#include <httplib.h>

#include "common/error.hh"

namespace nixmon::cli {

std::optional<BaseUrl> parse_base_url(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else {
    return std::nullopt;
  }
  auto slash = rest.find('/');
  std::string_view host = rest.substr(0, slash);
  if (host.empty() || host.find_first_of(" ?#@") != std::string_view::npos) return std::nullopt;
  // "host:" or "host:port" with a port that is not a number is no URL either.
  if (auto colon = host.rfind(':'); colon != std::string_view::npos && host.back() != ']') {
    auto port = host.substr(colon + 1);
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string_view::npos)
      return std::nullopt;
  }
  BaseUrl out;
  out.scheme_host_port = std::string(url.substr(0, url.size() - rest.size())) + std::string(host);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    if (path.find_first_of("?# ") != std::string_view::npos) return std::nullopt;
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    out.prefix = std::string(path);
  }
  return out;
}

std::string url_encode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string accept_encoding_for(const BaseUrl& base) {
  std::string_view host = base.scheme_host_port;
  host.remove_prefix(host.find("://") + 3);
  if (host.starts_with('['))
    host = host.substr(0, host.find(']') + 1);
  else
    host = host.substr(0, host.find(':'));
  bool loopback = host == "localhost" || host == "[::1]" || host.starts_with("127.");
  return loopback ? "identity" : "gzip";
}

HttpEndpoint::HttpEndpoint(std::string what, std::string_view url,
                           std::chrono::milliseconds timeout)
    : what_(std::move(what)), timeout_(timeout) {
  auto base = parse_base_url(url);
  if (!base)
    throw UsageError(fmt::format("{} URL \"{}\": not an http:// or https:// URL", what_, url));
  base_ = std::move(*base);
}

namespace {

void bound(httplib::Client& client, std::chrono::milliseconds timeout) {
  auto sec = static_cast<time_t>(timeout.count() / 1000);
  auto usec = static_cast<time_t>(timeout.count() % 1000 * 1000);
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
}

}  // namespace

HttpReply HttpEndpoint::get(const std::string& path_and_query) const {
  httplib::Client client(base_.scheme_host_port);
  bound(client, timeout_);
  auto res =
      client.Get(base_.prefix + path_and_query, {{"Accept-Encoding", accept_encoding_for(base_)}});
  // The query string stays out of the message: a PromQL selector URL-encoded is unreadable.
  if (!res)
    throw Error(fmt::format("{}: GET {}: {}", what_,
                            url(path_and_query.substr(0, path_and_query.find('?'))),
                            httplib::to_string(res.error())));
  return {res->status, res->body};
}

HttpReply HttpEndpoint::post(const std::string& path, const std::string& body,
                             const std::string& content_type) const {
  httplib::Client client(base_.scheme_host_port);
  bound(client, timeout_);
  auto res = client.Post(base_.prefix + path, {{"Accept-Encoding", accept_encoding_for(base_)}},
                         body, content_type);
  if (!res)
    throw Error(fmt::format("{}: POST {}: {}", what_, url(path), httplib::to_string(res.error())));
  return {res->status, res->body};
}

std::string HttpEndpoint::get_ok(const std::string& path_and_query) const {
  auto reply = get(path_and_query);
  if (reply.status != 200)
    throw Error(fmt::format("{}: GET {}: HTTP status {}: {}", what_,
                            url(path_and_query.substr(0, path_and_query.find('?'))), reply.status,
                            reply.body.substr(0, 300)));
  return std::move(reply.body);
}

}  // namespace nixmon::cli
