#include "exporter/scraper.hh"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/log.hh"
#include "common/version.hh"

namespace nixmon::exporter {

struct Scraper::Slot {
  std::string name;
  std::shared_ptr<Collector> collector;
  std::mutex mutex;
  bool overrunning = false;  // a run that passed its deadline has not returned yet
  std::string last_error;    // to log a failure when it starts or changes, not every scrape
};

namespace {

struct Run {
  std::mutex mutex;
  std::condition_variable done_cv;
  bool done = false;
  bool abandoned = false;  // the scrape stopped waiting for it
  MetricSet metrics;
  std::string error;
  double seconds = 0;
};

}  // namespace

Scraper::Scraper(std::vector<Named> collectors, std::chrono::milliseconds timeout, MetricSet fixed)
    : timeout_(timeout), fixed_(render(fixed)) {
  for (auto& c : collectors) {
    auto slot = std::make_shared<Slot>();
    slot->name = std::move(c.name);
    slot->collector = std::move(c.collector);
    slots_.push_back(std::move(slot));
  }
}

Scraper::~Scraper() = default;

std::string Scraper::scrape() {
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  std::vector<std::shared_ptr<Run>> runs;
  runs.reserve(slots_.size());
  for (auto& slot : slots_) {
    auto run = std::make_shared<Run>();
    runs.push_back(run);
    {
      std::lock_guard lock(slot->mutex);
      if (slot->overrunning) {
        run->done = true;
        run->error = "the previous run passed the scrape timeout and has not returned";
        continue;
      }
    }
    std::thread([slot, run] {
      MetricSet metrics;
      std::string error;
      auto start = std::chrono::steady_clock::now();
      try {
        slot->collector->collect(metrics);
      } catch (const std::exception& e) {
        error = e.what();
        if (error.empty()) error = "failed";
      } catch (...) {
        error = "failed with an unknown exception";
      }
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::lock_guard lock(run->mutex);
      run->done = true;
      run->metrics = std::move(metrics);
      run->error = std::move(error);
      run->seconds = seconds;
      if (run->abandoned) {
        std::lock_guard slot_lock(slot->mutex);
        slot->overrunning = false;
      }
      run->done_cv.notify_all();
    }).detach();
  }

  MetricSet body;
  MetricSet status;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    auto& slot = *slots_[i];
    auto& run = *runs[i];
    std::unique_lock lock(run.mutex);
    bool finished = run.done_cv.wait_until(lock, deadline, [&] { return run.done; });
    std::string error;
    double seconds;
    if (finished) {
      error = run.error;
      seconds = run.seconds;
      if (error.empty()) body.append(std::move(run.metrics));
    } else {
      run.abandoned = true;
      std::lock_guard slot_lock(slot.mutex);
      slot.overrunning = true;
      error = "timed out";
      seconds = std::chrono::duration<double>(timeout_).count();
    }
    lock.unlock();
    {
      std::lock_guard slot_lock(slot.mutex);
      if (error != slot.last_error) {
        if (!error.empty())
          log::warn("collector {} failed: {}", slot.name, error);
        else
          log::info("collector {} recovered", slot.name);
        slot.last_error = error;
      }
    }
    status.gauge("nixos_exporter_collector_success",
                 "1 if the collector's last run succeeded, 0 if it failed or timed out",
                 error.empty() ? 1 : 0, {{"collector", slot.name}});
    status.gauge("nixos_exporter_collector_duration_seconds", "How long the collector's run took",
                 seconds, {{"collector", slot.name}});
  }

  std::string out = fixed_;
  render_to(out, body);
  render_to(out, status);
  return out;
}

MetricSet build_info_metrics() {
  MetricSet m;
  m.gauge("nixos_exporter_build_info", "Build information of nixos-exporter (value 1)", 1,
          {{"version", std::string(version)},
           {"revision", std::string(revision)},
           {"compiler", std::string(compiler)}});
  return m;
}

}  // namespace nixmon::exporter
