#pragma once
// The HTTP side of an exporter: a landing page at "/", metrics at one path (gzip when the client
// accepts it), plain 404s elsewhere. The HTTP library stays behind this interface.
//
// Answers that are not the metrics, in the order the exporter-toolkit and promhttp give them
// (exporter-toolkit web/handler.go v0.17.1, client_golang promhttp/http.go v1.24):
//   500 while the web config file has changed into something unusable (WebConfigReloader),
//   429 "Too Many Requests" from the web config's rate_limit (every path, before authentication),
//   401 without valid basic-auth credentials,
//   503 "Limit of concurrent requests reached (N), try again later." past max_requests scrapes.
//
// Thread-safety: handlers run on the server's worker threads, several at once; stop() may be called
// from any thread.
#include <filesystem>
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
    // cpp-httplib gives a connection (keep-alive included) one worker for its life: the pool keeps
    // `worker_threads` and grows up to `max_worker_threads` while all are busy, so 100 scrapers
    // holding connections are all answered; threads past the minimum end after 30 s idle.
    int worker_threads = 16;
    int max_worker_threads = 256;
    // --web.config.file (load_web_config): TLS, client certificates, basic auth, headers.
    // Default: plain HTTP, no authentication.
    WebConfig web;
    // Where `web` was read from: when set, it and the files it names are read again when they
    // change (see web-config-reloader.hh). Empty: `web` stays as it is.
    std::filesystem::path web_config_file;
    // Scrapes of metrics_path served at once; one more gets 503 at once (0 or less: no limit).
    int max_requests = 0;
    // Appends the server's own metrics to every scrape: process_* (process-metrics.hh) and
    // promhttp_metric_handler_requests_total{code} / _in_flight, as client_golang's promhttp
    // instruments a handler.
    bool exporter_metrics = false;
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
  void widen_backlog();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nixmon
