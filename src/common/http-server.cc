#include "common/http-server.hh"

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/basic-auth.hh"
#include "common/duration.hh"
#include "common/error.hh"
#include "common/exposition.hh"
#include "common/log.hh"
#include "common/process-metrics.hh"
#include "common/rate-limiter.hh"
#include "common/tls-context.hh"
#include "common/web-config-reloader.hh"

namespace nixmon {

ListenAddress parse_listen_address(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return UsageError(
        fmt::format("invalid listen address '{}': {} (expected host:port or :port)", text, why));
  };
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) throw bad("no port");
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    throw bad("an IPv6 address must be written in brackets");
  }
  if (port.empty() || port.size() > 5) throw bad("bad port");
  int p = 0;
  for (char c : port) {
    if (c < '0' || c > '9') throw bad("bad port");
    p = p * 10 + (c - '0');
  }
  if (p > 65535) throw bad("port out of range");
  return {std::string(host), p};
}

struct HttpServer::Impl {
  Options options;
  Producer produce;
  std::unique_ptr<WebConfigReloader> web;
  std::unique_ptr<RateLimiter> limiter;  // rate_limit, decided at startup as in the toolkit
  std::unique_ptr<httplib::Server> server;
  int listen_fd = -1;  // the last socket the library created to listen on
  // promhttp's instrumentation: scrapes being served (also those refused with 503), those admitted
  // under max_requests, and answered scrapes by status code.
  std::atomic<int> in_flight{0}, admitted{0};
  std::atomic<std::uint64_t> answered_200{0}, answered_500{0}, answered_503{0};
};

namespace {

// cpp-httplib gives each connection a worker for the connection's whole life (keep-alive
// included). With a fixed pool of 16, the 17th scraper that keeps its connection open waits until
// one of the 16 closes: 100 scrapers at a 1 s interval got 18 answers/s and 48 timeouts in 15 s.
// This pool keeps `min` workers and adds more while every worker is busy, up to `max`; a worker
// above `min` that stays idle for `idle_exit` ends, so the memory of a burst is given back.
//
// Thread-safety: enqueue() from the library's accept thread; shutdown() once, from stop().
class ElasticPool final : public httplib::TaskQueue {
  using EnqueueResult =
      decltype(std::declval<httplib::TaskQueue&>().enqueue(std::function<void()>()));
  static_assert(std::is_same_v<EnqueueResult, void> || std::is_same_v<EnqueueResult, bool>);

 public:
  ElasticPool(size_t min, size_t max, std::chrono::seconds idle_exit)
      : min_(std::max<size_t>(min, 1)), max_(std::max(max, min_)), idle_exit_(idle_exit) {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < min_; ++i) spawn_locked();
  }
  ~ElasticPool() override { shutdown(); }

  // cpp-httplib 0.11 (Debian 12) declares `void enqueue`; later versions (0.43 in nixpkgs)
  // declare `bool enqueue` and close the connection on false. This pool never refuses work.
  EnqueueResult enqueue(std::function<void()> fn) override {
    std::vector<std::thread> finished;
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(fn));
      if (idle_ < jobs_.size() && live_ < max_) spawn_locked();
      finished.swap(finished_);
    }
    wake_.notify_one();
    for (auto& t : finished) t.join();
    return static_cast<EnqueueResult>(true);  // `return void(true);` where the answer is void
  }

  void shutdown() override {
    std::unique_lock lock(mutex_);
    stopping_ = true;
    wake_.notify_all();
    all_done_.wait(lock, [&] { return live_ == 0; });
    std::vector<std::thread> finished;
    finished.swap(finished_);
    lock.unlock();
    for (auto& t : finished) t.join();
  }

 private:
  void spawn_locked() {
    ++live_;
    auto it = threads_.emplace(threads_.end());
    // The new thread needs the lock before it can touch `*it`, and we hold it until assigned.
    *it = std::thread([this, it] { run(it); });
  }

  void run(std::list<std::thread>::iterator self) {
    std::unique_lock lock(mutex_);
    for (;;) {
      ++idle_;
      bool woken = wake_.wait_for(lock, idle_exit_, [&] { return stopping_ || !jobs_.empty(); });
      --idle_;
      if (!jobs_.empty()) {
        auto fn = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        fn();
        lock.lock();
        continue;
      }
      if (stopping_ || (!woken && live_ > min_)) break;
    }
    --live_;
    finished_.push_back(std::move(*self));  // joined by the next enqueue() or by shutdown()
    threads_.erase(self);
    all_done_.notify_all();
  }

  const size_t min_, max_;
  const std::chrono::seconds idle_exit_;
  std::mutex mutex_;
  std::condition_variable wake_, all_done_;
  std::deque<std::function<void()>> jobs_;
  std::list<std::thread> threads_;
  std::vector<std::thread> finished_;
  size_t live_ = 0, idle_ = 0;
  bool stopping_ = false;
};

// The OpenSSL context behind cpp-httplib's setup callback argument: 0.11 (Debian 12) passes
// `SSL_CTX&`; later versions (0.43 in nixpkgs), which support several TLS backends, pass an opaque
// `void*` that is an `SSL_CTX*` with the OpenSSL backend, the only one nixmon builds with.
template <typename Context>
SSL_CTX& openssl_context(Context&& ctx) {
  if constexpr (std::is_same_v<std::decay_t<Context>, void*>) {
    return *static_cast<SSL_CTX*>(ctx);
  } else {
    static_assert(std::is_same_v<std::decay_t<Context>, SSL_CTX>);
    return ctx;
  }
}

// Each TLS connection holds the web config snapshot whose context it uses (the context's verify
// callback reads the snapshot's tls_server_config), until OpenSSL frees the connection.
using HeldSnapshot = std::shared_ptr<const WebConfigReloader::Snapshot>;

void release_snapshot(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<HeldSnapshot*>(ptr);
}

int snapshot_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, release_snapshot);
  return index;
}

// Every ClientHello: the current web config's context (certificates re-read when their files
// changed) takes over the handshake, as the toolkit's GetConfigForClient does. While the file is
// broken the handshake fails with an alert, as the toolkit's does.
int on_client_hello(SSL* ssl, int* alert, void* arg) {
  HeldSnapshot snap = static_cast<WebConfigReloader*>(arg)->current();
  if (!snap->tls) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  int index = snapshot_index();
  delete static_cast<HeldSnapshot*>(SSL_get_ex_data(ssl, index));  // a second ClientHello
  SSL_set_ex_data(ssl, index, new HeldSnapshot(snap));
  if (!adopt_server_context(*ssl, *snap->tls)) {
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  return SSL_CLIENT_HELLO_SUCCESS;
}

// A TLS server whose listening context only hands each handshake to the web config's current
// context (on_client_hello).
std::unique_ptr<httplib::Server> make_tls_server(WebConfigReloader& web) {
  if (snapshot_index() < 0) throw Error("OpenSSL cannot reserve connection data");
  auto svr = std::make_unique<httplib::SSLServer>([&](auto&& c) {
    SSL_CTX& ctx = openssl_context(c);
    // Never used for a session: SSL_new copies it into each connection, and SSL_set_SSL_CTX then
    // replaces it with the adopted context's own (configure_server_tls says why each has one).
    static const unsigned char sid[] = "nixmon";
    SSL_CTX_set_session_id_context(&ctx, sid, sizeof sid - 1);
    SSL_CTX_set_client_hello_cb(&ctx, on_client_hello, &web);
    return true;
  });
  if (!svr->is_valid()) throw UsageError("tls_server_config: OpenSSL could not create a context");
  return svr;
}

// client_golang's promhttp.InstrumentMetricHandler: the in-flight gauge counts the scrape being
// rendered; the counter has 200, 500 and 503 from the start and counts a scrape once answered.
MetricSet handler_metrics(int in_flight, std::uint64_t ok, std::uint64_t failed,
                          std::uint64_t refused) {
  MetricSet m;
  m.gauge("promhttp_metric_handler_requests_in_flight", "Current number of scrapes being served.",
          in_flight);
  constexpr std::string_view help = "Total number of scrapes by HTTP status code.";
  m.counter("promhttp_metric_handler_requests_total", help, static_cast<double>(ok),
            {{"code", "200"}});
  m.counter("promhttp_metric_handler_requests_total", help, static_cast<double>(failed),
            {{"code", "500"}});
  m.counter("promhttp_metric_handler_requests_total", help, static_cast<double>(refused),
            {{"code", "503"}});
  return m;
}

}  // namespace

HttpServer::HttpServer(Options options, Producer produce_metrics)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->produce = std::move(produce_metrics);
  impl_->web =
      std::make_unique<WebConfigReloader>(impl_->options.web_config_file, impl_->options.web);
  if (const RateLimit& r = impl_->options.web.rate_limit; r.enabled()) {
    impl_->limiter = std::make_unique<RateLimiter>(r, RateLimiter::Clock::now());
    log::info("rate limit: {} requests at once, then one per {}{}", r.burst,
              format_duration(r.interval),
              r.burst < 1 ? " (burst below 1: every request is refused, as in Go)" : "");
  }
  impl_->server =
      impl_->web->tls() ? make_tls_server(*impl_->web) : std::make_unique<httplib::Server>();
  auto& svr = *impl_->server;
  int threads = impl_->options.worker_threads;
  int max_threads = std::max(threads, impl_->options.max_worker_threads);
  svr.new_task_queue = [threads, max_threads] {
    return new ElasticPool(static_cast<size_t>(threads), static_cast<size_t>(max_threads),
                           std::chrono::seconds(30));
  };
  // The library's default adds SO_REUSEPORT, which lets a second exporter bind the same port and
  // silently take half the scrapes. Keep only SO_REUSEADDR (fast restarts).
  // Headers and body go out in separate writes; with Nagle on, each response waits ~40 ms for the
  // scraper's delayed ACK.
  svr.set_tcp_nodelay(true);
  svr.set_socket_options([impl = impl_.get()](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    impl->listen_fd = sock;
  });

  std::string landing = fmt::format(
      "<!DOCTYPE html>\n<html><head><title>{0}</title></head>\n<body><h1>{0}</h1>\n"
      "<p><a href=\"{1}\">Metrics</a></p>\n</body></html>\n",
      impl_->options.title, impl_->options.metrics_path);

  // node_exporter serves no landing page when the metrics are at "/".
  if (impl_->options.metrics_path != "/") {
    svr.Get("/", [landing](const httplib::Request&, httplib::Response& res) {
      res.set_content(landing, "text/html; charset=utf-8");
    });
  }
  Impl* impl = impl_.get();
  // Every request, whatever its path, in the toolkit's order: the web config (500 while broken),
  // the rate limit, configured headers, then authentication. A failure says only "Unauthorized",
  // whether the user, the password or the header's form was wrong.
  svr.set_pre_routing_handler([impl](const httplib::Request& req, httplib::Response& res) {
    auto web = impl->web->current();
    if (!web->error.empty()) {
      res.status = 500;
      res.set_content("Internal Server Error\n", "text/plain; charset=utf-8");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (impl->limiter && !impl->limiter->allow(RateLimiter::Clock::now())) {
      res.status = 429;
      res.set_content("Too Many Requests\n", "text/plain; charset=utf-8");
      return httplib::Server::HandlerResponse::Handled;
    }
    for (const auto& [name, value] : web->web.headers) res.set_header(name, value);
    if (web->auth->check(req.get_header_value("Authorization")))
      return httplib::Server::HandlerResponse::Unhandled;
    res.status = 401;
    res.set_header("WWW-Authenticate", "Basic");
    res.set_content("Unauthorized\n", "text/plain; charset=utf-8");
    return httplib::Server::HandlerResponse::Handled;
  });
  svr.Get(impl_->options.metrics_path, [impl](const httplib::Request&, httplib::Response& res) {
    struct Counted {  // in flight for the whole answer, refused ones included (as promhttp)
      std::atomic<int>& n;
      explicit Counted(std::atomic<int>& c) : n(c) { ++n; }
      ~Counted() { --n; }
    } in_flight(impl->in_flight);
    const int max = impl->options.max_requests;
    if (max > 0 && impl->admitted.fetch_add(1) >= max) {
      --impl->admitted;
      ++impl->answered_503;
      res.status = 503;
      res.set_content(
          fmt::format("Limit of concurrent requests reached ({}), try again later.\n", max),
          "text/plain; charset=utf-8");
      return;
    }
    struct Admitted {
      std::atomic<int>* n;
      ~Admitted() {
        if (n) --*n;
      }
    } admitted{max > 0 ? &impl->admitted : nullptr};
    try {
      std::string body = impl->produce();
      if (impl->options.exporter_metrics) {
        MetricSet own = handler_metrics(impl->in_flight.load(), impl->answered_200,
                                        impl->answered_500, impl->answered_503);
        add_process_metrics(own);
        render_to(body, own);
      }
      res.set_content(std::move(body), std::string(exposition_content_type));
      ++impl->answered_200;
    } catch (const std::exception& e) {
      // A collector failure never reaches here (the scraper catches per collector); this is the
      // last line of defence for a bug in rendering itself.
      log::error("scrape failed: {}", e.what());
      ++impl->answered_500;
      res.status = 500;
      res.set_content(std::string("scrape failed: ") + e.what() + "\n", "text/plain");
    }
  });
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.status == 404) res.set_content("404 page not found\n", "text/plain; charset=utf-8");
  });
  svr.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        res.status = 500;
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          res.set_content(std::string("internal error: ") + e.what() + "\n", "text/plain");
        } catch (...) {
          res.set_content("internal error\n", "text/plain");
        }
      });
}

HttpServer::~HttpServer() {
  stop();
}

int HttpServer::bind(const ListenAddress& address) {
  std::string host = address.host.empty() ? "0.0.0.0" : address.host;
  int port = address.port;
  if (port == 0) {
    port = impl_->server->bind_to_any_port(host);
    if (port < 0) throw Error(fmt::format("cannot listen on {}:0", host));
  } else if (!impl_->server->bind_to_port(host, port)) {
    throw Error(fmt::format(
        "cannot listen on {}:{} (address in use, or not an address of this host)", host, port));
  }
  widen_backlog();
  return port;
}

// cpp-httplib 0.11 (built into Debian's shared library) listens with a backlog of 5. When 100
// scrapers connect at once, the kernel drops the SYNs past it and each dropped client retries
// only after 1 s, then 3 s: wrk counted those as timeouts. Calling listen() again on the listening
// socket sets the backlog (Linux caps it at net.core.somaxconn).
void HttpServer::widen_backlog() {
  int fd = impl_->listen_fd;
  int listening = 0;
  socklen_t len = sizeof listening;
  if (fd < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening ||
      ::listen(fd, SOMAXCONN) != 0)
    log::warn("cannot widen the listen backlog; bursts of connections may wait for retries");
}

void HttpServer::serve() {
  impl_->server->listen_after_bind();
}

void HttpServer::stop() {
  if (impl_ && impl_->server->is_running()) impl_->server->stop();
}

}  // namespace nixmon
