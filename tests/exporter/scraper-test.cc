#include "exporter/scraper.hh"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/error.hh"

using namespace nixmon;
using namespace nixmon::exporter;
using namespace std::chrono_literals;

namespace {
struct Fixed : Collector {
  void collect(MetricSet& out) override { out.gauge("ok_metric", "fine", 1); }
};
struct Throwing : Collector {
  void collect(MetricSet& out) override {
    out.gauge("partial_metric", "must not leak", 1);
    throw Error("boom");
  }
};
struct Slow : Collector {
  std::atomic<int> calls{0};
  std::atomic<bool> release{false};
  void collect(MetricSet& out) override {
    ++calls;
    while (!release) std::this_thread::sleep_for(5ms);
    out.gauge("slow_metric", "late", 1);
  }
};
bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}
}  // namespace

TEST(Scraper, ThrowingCollectorIsReportedAndOthersServed) {
  Scraper s({{"a", std::make_shared<Fixed>()}, {"b", std::make_shared<Throwing>()}}, 2s,
            build_info_metrics());
  auto text = s.scrape();
  EXPECT_TRUE(has(text, "ok_metric 1")) << text;
  EXPECT_FALSE(has(text, "partial_metric")) << text;
  EXPECT_TRUE(has(text, "nixos_exporter_collector_success{collector=\"a\"} 1")) << text;
  EXPECT_TRUE(has(text, "nixos_exporter_collector_success{collector=\"b\"} 0")) << text;
  EXPECT_TRUE(has(text, "nixos_exporter_build_info{version=")) << text;
}

TEST(Scraper, SlowCollectorTimesOutAndDoesNotPileUp) {
  auto slow = std::make_shared<Slow>();
  Scraper s({{"a", std::make_shared<Fixed>()}, {"slow", slow}}, 100ms, MetricSet{});
  auto first = s.scrape();
  EXPECT_TRUE(has(first, "nixos_exporter_collector_success{collector=\"slow\"} 0")) << first;
  EXPECT_TRUE(has(first, "ok_metric 1"));
  auto second = s.scrape();  // the first run still hangs: no second thread is started
  EXPECT_TRUE(has(second, "nixos_exporter_collector_success{collector=\"slow\"} 0"));
  EXPECT_EQ(slow->calls.load(), 1);
  slow->release = true;
  for (int i = 0; i < 200; ++i) {
    auto text = s.scrape();
    if (has(text, "slow_metric 1")) {
      EXPECT_TRUE(has(text, "nixos_exporter_collector_success{collector=\"slow\"} 1"));
      return;
    }
    std::this_thread::sleep_for(10ms);
  }
  FAIL() << "the slow collector never recovered";
}

TEST(Scraper, ConcurrentScrapesAllSucceed) {
  Scraper s({{"a", std::make_shared<Fixed>()}}, 2s, MetricSet{});
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 50; ++j)
        ok += has(s.scrape(), "nixos_exporter_collector_success{collector=\"a\"} 1");
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 400);
}

TEST(Scraper, IdleCollectorsAreDestroyedWithTheScraperOnItsThread) {
  // Collectors own threads and connections (flake, store, gc): they must be torn down when the
  // Scraper goes, in order, not later on a detached worker racing the end of main().
  struct Probe : Collector {
    std::atomic<std::thread::id>* destroyed_on;
    explicit Probe(std::atomic<std::thread::id>* d) : destroyed_on(d) {}
    ~Probe() override { *destroyed_on = std::this_thread::get_id(); }
    void collect(MetricSet& out) override { out.gauge("probe_metric", "here", 1); }
  };
  std::atomic<std::thread::id> destroyed_on{};
  {
    Scraper s({{"probe", std::make_shared<Probe>(&destroyed_on)}}, 2s, MetricSet());
    EXPECT_TRUE(has(s.scrape(), "probe_metric 1"));
  }
  EXPECT_EQ(destroyed_on.load(), std::this_thread::get_id());
}
