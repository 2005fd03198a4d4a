#include "nod/record-writer.hh"

#include <memory>

#include "common/log.hh"
#include "nod/record-store.hh"

namespace nixmon::nod {

RecordWriter::RecordWriter(WriterOptions options, Counters& counters)
    : options_(std::move(options)), counters_(counters), queue_(options_.queue_capacity) {
  // Open on this thread so a bad database fails the constructor (and `nod daemon` exits with a
  // clear message) before anything listens.
  auto store = std::make_unique<RecordStore>(options_.db_path);
  thread_ = std::thread([this, s = store.release()] {
    std::unique_ptr<RecordStore> owned(s);
    run(owned.get());
  });
}

RecordWriter::~RecordWriter() {
  close();
}

bool RecordWriter::submit(Event&& e) {
  if (queue_.try_push(std::move(e))) {
    submitted_.fetch_add(1, std::memory_order_relaxed);
    counters_.enqueued.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  counters_.dropped.fetch_add(1, std::memory_order_relaxed);
  return false;
}

bool RecordWriter::submit_wait(Event&& e) {
  if (queue_.push_wait(std::move(e))) {
    submitted_.fetch_add(1, std::memory_order_relaxed);
    counters_.enqueued.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  counters_.dropped.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void RecordWriter::close() {
  if (closed_.exchange(true)) return;
  queue_.close();
  if (thread_.joinable()) thread_.join();
}

void RecordWriter::flush() {
  uint64_t target = submitted_.load();
  while (settled_.load() < target && thread_.joinable() && !closed_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void RecordWriter::run(RecordStore* store) {
  using clock = std::chrono::steady_clock;
  auto next_prune = clock::now();
  auto next_drop_log = clock::now() + options_.drop_log_interval;
  uint64_t dropped_logged = counters_.dropped.load();
  std::vector<Event> batch;
  batch.reserve(options_.max_batch);
  for (;;) {
    bool more = queue_.pop_all(batch, options_.max_batch, options_.flush_interval);
    if (!batch.empty()) {
      // A busy database (another process holding the write lock) or a full disk must not lose
      // the batch on the first failure: retry a few times, then count it as failed.
      for (int attempt = 1;; ++attempt) {
        try {
          store->write_batch(batch);
          counters_.committed.fetch_add(batch.size(), std::memory_order_relaxed);
          counters_.batches.fetch_add(1, std::memory_order_relaxed);
          break;
        } catch (const std::exception& e) {
          counters_.write_errors.fetch_add(1, std::memory_order_relaxed);
          if (attempt >= 5) {
            log::error("giving up on a batch of {} events after {} attempts: {}", batch.size(),
                       attempt, e.what());
            break;
          }
          log::warn("writing a batch of {} events failed (attempt {}), retrying: {}", batch.size(),
                    attempt, e.what());
          std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
        }
      }
      settled_.fetch_add(batch.size(), std::memory_order_relaxed);
      batch.clear();
    }
    auto now = clock::now();
    if (now >= next_drop_log) {
      uint64_t dropped = counters_.dropped.load();
      if (dropped > dropped_logged) {
        log::warn("queue full: dropped {} events in the last {}s (queue capacity {})",
                  dropped - dropped_logged, options_.drop_log_interval.count(), queue_.capacity());
        dropped_logged = dropped;
      }
      next_drop_log = now + options_.drop_log_interval;
    }
    if (now >= next_prune && options_.retain_days > 0) {
      try {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
        int64_t n = store->prune(ms, options_.retain_days);
        counters_.pruned_rows.fetch_add(n, std::memory_order_relaxed);
        if (n) log::info("retention: removed {} rows older than {} days", n, options_.retain_days);
      } catch (const std::exception& e) {
        log::warn("retention pruning failed: {}", e.what());
      }
      next_prune = now + std::chrono::hours(1);
    }
    if (!more) break;
  }
  // Checkpoint so the WAL does not outlive a clean shutdown.
  try {
    store->db().exec("PRAGMA wal_checkpoint(TRUNCATE)");
  } catch (const std::exception& e) {
    log::warn("checkpoint at shutdown failed: {}", e.what());
  }
}

}  // namespace nixmon::nod
