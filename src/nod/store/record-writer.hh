#pragma once
// The one thread that writes to SQLite. It takes events from the bounded queue, commits them in
// batches (one transaction per batch), prunes old rows once an hour, and logs drops once per
// interval. Readers only ever touch the queue, never the database.
//
// Thread-safety: submit() from any thread; the rest from the owner's thread.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "common/clock.hh"
#include "ingest/counters.hh"
#include "store/bounded-queue.hh"
#include "tracking/events.hh"

namespace nixmon::nod {

struct WriterOptions {
  std::string db_path;
  size_t queue_capacity = 65536;                  // events; bounds memory whatever the disk does
  size_t max_batch = 8192;                        // events per transaction
  std::chrono::milliseconds flush_interval{200};  // longest an event waits for its commit
  int retain_days = 180;
  std::chrono::seconds drop_log_interval{10};
  // Dates the retention cut-off (wall) and spaces the hourly prunes (monotonic).
  std::shared_ptr<const Clock> clock = system_clock_ptr();
};

class RecordWriter {
 public:
  // Opens the database (throws Error for a newer schema or an unusable file), then starts the
  // writer thread.
  RecordWriter(WriterOptions options, Counters& counters);
  // Drains the queue, commits, stops the thread.
  ~RecordWriter();
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  // Never waits: false (and counted as dropped) if the queue is full.
  bool submit(Event&& e);
  // Waits for room instead (for replaying files).
  bool submit_wait(Event&& e);

  // Stops accepting, commits what is queued, joins the thread. Idempotent.
  void close();

  size_t queue_depth() const { return queue_.size(); }
  size_t queue_capacity() const { return queue_.capacity(); }

 private:
  void run(class RecordStore* store);

  WriterOptions options_;
  Counters& counters_;
  BoundedQueue<Event> queue_;
  std::thread thread_;
  std::atomic<bool> closed_{false};
};

}  // namespace nixmon::nod
