#pragma once
// Keeps an expensive answer off the scrape path: a worker thread owned by this object runs `step`
// at once and then every `interval`; `step` decides itself whether its source changed and returns
// a new answer only then. Scrapes read the latest answer, its age and how long it took, without
// waiting for the worker. Times come from the injected Clock's monotonic side, so a test's
// ManualClock decides ages and durations; the wait between two steps is real time (a worker asleep
// on a condition variable cannot be woken by a ManualClock).
//
// Thread-safety: view() may be called from any thread at any time. `step` runs on the worker
// thread only, so it may keep unsynchronised state (a connection, the last version seen).
// The destructor wakes the worker, waits for a running step to finish and joins it.
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.hh"

namespace nixmon::exporter {

template <class Answer>
class BackgroundCache {
 public:
  // Returns a new answer when it recomputed, nullopt when the source is unchanged since the last
  // answer. Throws when the source cannot be read: the error is kept (and the old answer is no
  // longer served) until a later step succeeds.
  using Step = std::function<std::optional<Answer>()>;

  struct View {
    std::shared_ptr<const Answer> answer;  // null until the first computation finished
    std::optional<std::string> error;      // the last step failed with this
    Clock::MonotonicTime computed_at{};    // when `answer` was computed (clock->monotonic())
    Clock::MonotonicTime checked_at{};     // when the last step confirmed or computed it
    double compute_seconds = 0;            // how long computing `answer` took
  };

  BackgroundCache(std::shared_ptr<const Clock> clock, std::chrono::milliseconds interval, Step step)
      : clock_(std::move(clock)),
        interval_(interval),
        step_(std::move(step)),
        worker_([this] { run(); }) {}

  BackgroundCache(const BackgroundCache&) = delete;
  BackgroundCache& operator=(const BackgroundCache&) = delete;

  ~BackgroundCache() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    worker_.join();
  }

  View view() const {
    std::lock_guard lock(mutex_);
    return view_;
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
      lock.unlock();
      auto start = clock_->monotonic();
      std::optional<Answer> fresh;
      std::optional<std::string> error;
      try {
        fresh = step_();
      } catch (const std::exception& e) {
        error = e.what();
      } catch (...) {
        error = "failed with an unknown exception";
      }
      auto end = clock_->monotonic();
      lock.lock();
      view_.error = std::move(error);
      if (!view_.error) {
        if (fresh) {
          view_.answer = std::make_shared<const Answer>(std::move(*fresh));
          view_.computed_at = end;
          view_.compute_seconds = std::chrono::duration<double>(end - start).count();
        }
        view_.checked_at = end;
      }
      wake_.wait_for(lock, interval_, [this] { return stopping_; });
    }
  }

  const std::shared_ptr<const Clock> clock_;
  const std::chrono::milliseconds interval_;
  Step step_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  View view_;
  std::thread worker_;  // last: starts once everything above is constructed
};

}  // namespace nixmon::exporter
