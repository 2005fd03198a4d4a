#include "exporter/scraper.hh"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/log.hh"
#include "common/version.hh"

namespace nixmon::exporter {

namespace {

// One run of one collector. Immutable once `done` is set (under `mutex`), so any number of scrapes
// may render its metrics afterwards without locking.
struct Run {
  std::mutex mutex;
  std::condition_variable done_cv;
  std::chrono::steady_clock::time_point deadline;
  bool done = false;
  MetricSet metrics;
  std::string error;
  double seconds = 0;
};

}  // namespace

struct Scraper::Slot {
  std::string name;
  std::shared_ptr<Collector> collector;
  std::mutex mutex;
  // The run in flight, if any. Scrapes that arrive while it runs share it (single flight): a
  // hundred concurrent scrapers cost one collection, and a stuck collector holds one thread.
  std::shared_ptr<Run> in_flight;
  std::string last_error;  // to log a failure when it starts or changes, not every scrape
  // The slot's worker thread waits here for the next run: one long-lived thread per collector
  // instead of a new thread per collector and scrape (which cost ~20% of the requests/s).
  std::condition_variable wake;
  std::shared_ptr<Run> next;
  bool stop = false;
  std::thread worker;  // joined or detached by ~Scraper
};

namespace {

// The worker of one slot. It holds the slot, so a collector stuck past the Scraper's lifetime
// still finds everything it touches alive; it ends once told to stop.
void work(std::shared_ptr<Scraper::Slot> slot) {
  for (;;) {
    std::shared_ptr<Run> run;
    {
      std::unique_lock lock(slot->mutex);
      slot->wake.wait(lock, [&] { return slot->stop || slot->next; });
      if (slot->stop) return;
      run = std::move(slot->next);
    }
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
    {
      std::lock_guard slot_lock(slot->mutex);
      if (slot->in_flight == run) slot->in_flight.reset();
    }
    std::lock_guard lock(run->mutex);
    run->done = true;
    run->metrics = std::move(metrics);
    run->error = std::move(error);
    run->seconds = seconds;
    run->done_cv.notify_all();
  }
}

}  // namespace

Scraper::Scraper(std::vector<Named> collectors, std::chrono::milliseconds timeout, MetricSet fixed)
    : timeout_(timeout), fixed_(render(fixed)) {
  for (auto& c : collectors) {
    auto slot = std::make_shared<Slot>();
    slot->name = std::move(c.name);
    slot->collector = std::move(c.collector);
    slot->worker = std::thread(work, slot);
    slots_.push_back(std::move(slot));
  }
}

Scraper::~Scraper() {
  for (auto& slot : slots_) {
    bool busy;
    {
      std::lock_guard lock(slot->mutex);
      slot->stop = true;
      busy = slot->in_flight != nullptr;
      slot->wake.notify_one();
    }
    // An idle worker ends at once: joined, so the collector (its background threads, its NATS
    // connection) is destroyed here, in order. A worker inside a run, perhaps a stuck one, cannot
    // be waited for: it finishes on its own and the collector goes with its last reference.
    if (busy)
      slot->worker.detach();
    else
      slot->worker.join();
  }
}

std::string Scraper::scrape() {
  auto now = std::chrono::steady_clock::now();
  std::vector<std::shared_ptr<Run>> runs;
  runs.reserve(slots_.size());
  for (auto& slot : slots_) {
    std::lock_guard lock(slot->mutex);
    if (slot->in_flight) {
      runs.push_back(slot->in_flight);  // join it, or, past its deadline, report it stuck
      continue;
    }
    auto run = std::make_shared<Run>();
    run->deadline = now + timeout_;
    slot->in_flight = run;
    runs.push_back(run);
    slot->next = run;  // under slot->mutex: the worker takes it when it wakes
    slot->wake.notify_one();
  }

  std::string out = fixed_;
  MetricSet status;
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    auto& slot = *slots_[i];
    auto& run = *runs[i];
    std::string error;
    double seconds;
    {
      std::unique_lock lock(run.mutex);
      if (run.done_cv.wait_until(lock, run.deadline, [&] { return run.done; })) {
        error = run.error;
        seconds = run.seconds;
      } else {
        bool stuck = run.deadline < now;  // it had overrun before this scrape began
        error =
            stuck ? "the previous run passed the scrape timeout and has not returned" : "timed out";
        seconds = std::chrono::duration<double>(timeout_).count();
      }
    }
    if (error.empty()) render_to(out, run.metrics);  // immutable once done
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
