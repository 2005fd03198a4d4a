#pragma once
// A blocking HTTP client for one server given by a base URL (scheme, host, port and an optional
// path prefix such as "/prometheus" behind a proxy). Every request is bounded: the connect, read
// and write timeouts are all `timeout`, so an unreachable or stuck server costs at most a few
// timeouts, never a hang. Each request makes its own connection: an HttpEndpoint may be shared by
// threads. Failures throw nixmon::Error naming the method and URL.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace nixmon::cli {

struct BaseUrl {
  std::string scheme_host_port;  // "http://127.0.0.1:9090"
  std::string prefix;            // "" or "/prometheus" (no trailing slash)
};

// nullopt unless `url` is http(s)://host[:port][/path]; a trailing slash is dropped.
std::optional<BaseUrl> parse_base_url(std::string_view url);

// "a b&c" -> "a%20b%26c": RFC 3986 unreserved characters stay, every other byte is escaped.
std::string url_encode(std::string_view text);

// The Accept-Encoding nixmon sends to `base`. On loopback "identity": compressing megabytes of
// JSON only costs both ends CPU there (a 2.6 MB answer of Prometheus took ~25 % longer gzipped,
// docs/benchmarks.md). Elsewhere (through the proxy, over a network) "gzip", which shrinks such
// an answer about 24 times. Always sent: cpp-httplib 0.11 sends no Accept-Encoding, newer ones
// send every coding they were built with, so without it the two builds would ask differently.
std::string accept_encoding_for(const BaseUrl& base);

struct HttpReply {
  int status = 0;
  std::string body;
};

class HttpEndpoint {
 public:
  // Throws UsageError when `url` is not an http(s) URL; `what` names the server in messages.
  HttpEndpoint(std::string what, std::string_view url, std::chrono::milliseconds timeout);

  // Any HTTP status is returned; a connection failure or timeout throws Error.
  HttpReply get(const std::string& path_and_query) const;
  HttpReply post(const std::string& path, const std::string& body,
                 const std::string& content_type) const;
  // A GET that must answer 200: any other status throws Error with the start of the body.
  std::string get_ok(const std::string& path_and_query) const;

  std::string url(const std::string& path) const {
    return base_.scheme_host_port + base_.prefix + path;
  }
  const std::string& what() const { return what_; }

 private:
  std::string what_;
  BaseUrl base_;
  std::chrono::milliseconds timeout_;
};

}  // namespace nixmon::cli
