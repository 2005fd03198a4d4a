#pragma once
// The HTTP side of an exporter: a landing page at "/", metrics at one path (gzip when the client
// accepts it), plain 404s elsewhere. The HTTP library stays behind this interface.
//
// Thread-safety: handlers run on the server's worker threads, several at once; stop() may be called
// from any thread.
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/web-config.hh"

namespace nixmon {

struct ListenAddress {
  std::string host;  // "" means every interface
  int port = 0;      // 0 asks the kernel for a free port
};

// ":9971", "0.0.0.0:9971", "[::1]:9971", "localhost:9971". Throws UsageError otherwise.
ListenAddress parse_listen_address(std::string_view text);

class HttpServer {
 public:
  struct Options {
    std::string title;  // shown on the landing page
    std::string metrics_path = "/metrics";
    int worker_threads = 16;  // one keep-alive connection holds a worker; idle ones cost little
    // --web.config.file (load_web_config): TLS, client certificates, basic auth, headers.
    // Default: plain HTTP, no authentication.
    WebConfig web;
  };
  using Producer = std::function<std::string()>;  // the exposition body; may throw

  // Throws UsageError when the web config's certificates or keys cannot be loaded (naming the file
  // and OpenSSL's reason).
  HttpServer(Options options, Producer produce_metrics);
  ~HttpServer();

  // Binds and returns the port (useful with port 0). Throws Error when the address is taken or
  // cannot be bound.
  int bind(const ListenAddress& address);
  // Serves until stop(). Call after bind().
  void serve();
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nixmon
