#include "store/record-writer.hh"

#include <memory>

#include "common/log.hh"
#include "common/sqlite.hh"
#include "store/record-store.hh"

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
    counters_.enqueued.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  counters_.dropped.fetch_add(1, std::memory_order_relaxed);
  return false;
}

bool RecordWriter::submit_wait(Event&& e) {
  if (queue_.push_wait(std::move(e))) {
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

void RecordWriter::run(RecordStore* store) {
  using clock = std::chrono::steady_clock;
  auto next_prune = options_.clock->monotonic();
  // Drops are logged at the first one, then at most once per interval, also while a batch is
  // being retried (that is when the queue fills).
  auto next_drop_log = clock::now();
  uint64_t dropped_logged = counters_.dropped.load();
  auto log_drops = [&] {
    auto t = clock::now();
    uint64_t dropped = counters_.dropped.load();
    if (t < next_drop_log || dropped == dropped_logged) return;
    log::warn("queue full: dropped {} events since the last report (queue capacity {})",
              dropped - dropped_logged, queue_.capacity());
    dropped_logged = dropped;
    next_drop_log = t + options_.drop_log_interval;
  };
  std::vector<Event> batch;
  batch.reserve(options_.max_batch);
  for (;;) {
    bool more = queue_.pop_all(batch, options_.max_batch, options_.flush_interval);
    if (!batch.empty()) {
      // A busy database or a full disk must not lose the batch on the first failure.
      for (int attempt = 1;; ++attempt) {
        bool busy = false;
        std::string error;
        try {
          store->write_batch(batch);
          counters_.committed.fetch_add(batch.size(), std::memory_order_relaxed);
          counters_.batches.fetch_add(1, std::memory_order_relaxed);
          break;
        } catch (const sqlite::SqliteError& e) {
          busy = e.busy();
          error = e.what();
        } catch (const std::exception& e) {
          error = e.what();
        }
        counters_.write_errors.fetch_add(1, std::memory_order_relaxed);
        // Another process holding the write lock is transient: keep the batch and retry as
        // long as the daemon runs (meanwhile new events queue up, then are dropped and
        // counted). Other errors (disk full, corruption) are retried a few times only.
        if (!(busy && !closed_.load()) && attempt >= 5) {
          log::error("giving up on a batch of {} events after {} attempts: {}", batch.size(),
                     attempt, error);
          break;
        }
        if (attempt <= 3 || attempt % 20 == 0)
          log::warn("writing a batch of {} events failed (attempt {}), retrying: {}", batch.size(),
                    attempt, error);
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(200 * attempt, 2000)));
        log_drops();
      }
      batch.clear();
    }
    auto now = options_.clock->monotonic();
    log_drops();
    if (now >= next_prune && options_.retain_days > 0) {
      try {
        int64_t n = store->prune(options_.clock->wall_ms(), options_.retain_days);
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
