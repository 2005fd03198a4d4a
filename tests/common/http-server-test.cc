// The HTTP server's limits and its own metrics: the web config's rate_limit (429), max_requests
// (503) and the promhttp_* / process_* series, on a real listening socket.
#include "common/http-server.hh"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "common/process-metrics.hh"
#include "common/rate-limiter.hh"

using namespace nixmon;
using namespace std::chrono_literals;

namespace {

// One HTTP/1.1 GET on a new connection; returns the whole answer (status line, headers, body).
std::string get(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "connect failed";
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

int status_of(const std::string& answer) {
  return answer.size() > 12 ? std::stoi(answer.substr(9, 3)) : 0;
}

struct Running {
  HttpServer server;
  int port;
  std::thread thread;
  Running(HttpServer::Options o, HttpServer::Producer p)
      : server(std::move(o), std::move(p)), port(server.bind({"127.0.0.1", 0})) {
    thread = std::thread([this] { server.serve(); });
    for (int i = 0; i < 100 && get(port, "/nonesuch").rfind("HTTP/1.1", 0) != 0; ++i)
      std::this_thread::sleep_for(10ms);
  }
  ~Running() {
    server.stop();
    thread.join();
  }
};

}  // namespace

TEST(RateLimiter, BurstThenOneTokenPerInterval) {
  RateLimiter::Clock::time_point t0{};
  RateLimiter r(RateLimit{1s, 2}, t0);
  EXPECT_TRUE(r.allow(t0));
  EXPECT_TRUE(r.allow(t0));
  EXPECT_FALSE(r.allow(t0));  // the burst is spent
  EXPECT_FALSE(r.allow(t0 + 900ms));
  EXPECT_TRUE(r.allow(t0 + 1s));  // one token back after one interval
  EXPECT_FALSE(r.allow(t0 + 1s));
  // A long pause refills the bucket to the burst, not beyond.
  EXPECT_TRUE(r.allow(t0 + 100s));
  EXPECT_TRUE(r.allow(t0 + 100s));
  EXPECT_FALSE(r.allow(t0 + 100s));
}

TEST(RateLimiter, BurstZeroRefusesEverythingAsGoDoes) {
  RateLimiter::Clock::time_point t0{};
  RateLimiter r(RateLimit{1s, 0}, t0);
  EXPECT_FALSE(r.allow(t0));
  EXPECT_FALSE(r.allow(t0 + 1h));
}

TEST(HttpServer, RateLimitAnswers429BeforeAuthentication) {
  HttpServer::Options o;
  o.web.rate_limit = {1h, 2};
  // A user is configured: the third request must be refused for the rate, not for credentials.
  o.web.basic_auth_users["prometheus"] =
      "$2y$10$l0uFOMWSrAZXYYb.mC7VnuFefqPPlcdctwKNep8nwPDcxXPnyt5vC";
  Running s(o, [] { return std::string("m 1\n"); });
  // Running's readiness probe spent one token of the burst of two.
  EXPECT_EQ(status_of(get(s.port, "/metrics")), 401);
  std::string third = get(s.port, "/metrics");
  EXPECT_EQ(status_of(third), 429) << third;
  EXPECT_NE(third.find("Too Many Requests"), std::string::npos) << third;
  EXPECT_EQ(status_of(get(s.port, "/")), 429);  // every path
}

TEST(HttpServer, MaxRequestsRefusesTheScrapeBeyondWith503) {
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  int entered = 0;
  HttpServer::Options o;
  o.max_requests = 1;
  o.exporter_metrics = true;
  Running s(o, [&] {
    std::unique_lock lock(m);
    if (++entered == 1) {
      cv.notify_all();
      cv.wait(lock, [&] { return release; });
    }
    return std::string("m 1\n");
  });
  auto first = std::async(std::launch::async, [&] { return get(s.port, "/metrics"); });
  {
    std::unique_lock lock(m);
    ASSERT_TRUE(cv.wait_for(lock, 10s, [&] { return entered == 1; }));
  }
  std::string second = get(s.port, "/metrics");
  EXPECT_EQ(status_of(second), 503) << second;
  EXPECT_NE(second.find("Limit of concurrent requests reached (1), try again later."),
            std::string::npos)
      << second;
  EXPECT_EQ(status_of(get(s.port, "/")), 200);  // only the metrics path is limited
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  EXPECT_EQ(status_of(first.get()), 200);
  // The slot is free again; the refusal and the first scrape are counted, as promhttp counts them.
  std::string third = get(s.port, "/metrics");
  EXPECT_EQ(status_of(third), 200) << third;
  EXPECT_NE(third.find("promhttp_metric_handler_requests_total{code=\"503\"} 1\n"),
            std::string::npos)
      << third;
  EXPECT_NE(third.find("promhttp_metric_handler_requests_total{code=\"200\"} 1\n"),
            std::string::npos)
      << third;
  EXPECT_NE(third.find("promhttp_metric_handler_requests_in_flight 1\n"), std::string::npos)
      << third;
}

TEST(HttpServer, ExporterMetricsOnlyWhenAskedFor) {
  HttpServer::Options o;
  Running s(o, [] { return std::string("m 1\n"); });
  std::string text = get(s.port, "/metrics");
  EXPECT_EQ(text.find("process_"), std::string::npos) << text;
  EXPECT_EQ(text.find("promhttp_"), std::string::npos) << text;
}

TEST(HttpServer, MetricsAtRootHaveNoLandingPage) {
  HttpServer::Options o;
  o.metrics_path = "/";
  Running s(o, [] { return std::string("m 1\n"); });
  std::string text = get(s.port, "/");
  EXPECT_NE(text.find("\r\n\r\nm 1\n"), std::string::npos) << text;
}

TEST(ProcessMetrics, TheGoCollectorsSeriesFromThisProcess) {
  MetricSet m;
  add_process_metrics(m);
  std::string text = render(m);
  for (const char* name : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                           "process_virtual_memory_bytes", "process_virtual_memory_max_bytes",
                           "process_open_fds", "process_max_fds", "process_start_time_seconds"})
    EXPECT_NE(text.find(std::string("\n") + name + " "), std::string::npos) << name << "\n" << text;
  EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("# HELP process_open_fds Number of open file descriptors.\n"),
            std::string::npos);
  // The start time is this process's: after the machine booted, not after now.
  for (const auto& f : m.families()) {
    if (f.name != "process_start_time_seconds") continue;
    double start = f.samples.at(0).value;
    double now =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    EXPECT_LE(start, now + 1);
    EXPECT_GT(start, now - 3600);  // the test binary started moments ago
  }
}
