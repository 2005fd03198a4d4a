#pragma once
// Hands the allocator's free memory back to the system at an interval (glibc's malloc_trim).
//
// Why: under a steady stream the daemon's RSS kept rising for 30 minutes while the data it held
// did not (docs/robustness.md, "Endurance"): glibc held 63.7 MB from the system with 17.0 MB of
// it in use. Every connection is read by its own thread, so allocations spread over up to
// 8 x cores arenas, and the tracker's long-lived entries sit between short-lived ones (records,
// rows, batches, query results): freed space in the middle of a heap is kept, and glibc returns
// memory by itself only from the top of a heap. malloc_trim(0) also releases the whole free pages
// inside the heaps. Elsewhere than glibc this does nothing.
//
// Measured with bench/soak-nod.py (10 minutes, 2,000 records/s, five runs side by side on a
// loaded 2-core machine): RSS at the end 69 MiB with neither lever, 60 with the trim alone, 39
// with large allocations always mapped (map_large_allocations) alone, 29 with both; 62 with
// MALLOC_ARENA_MAX=1 instead. A trim pass took 4-18 ms under the ingest benchmark's load; the
// readers' allocations wait for it that long, once per interval.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace nixmon::nod {

// Allocations of 256 KiB and more get their own mapping, given back when freed, for the whole
// process: glibc starts so but raises that threshold to the size of the largest mapped block
// freed so far (up to 32 MiB), after which a query's result or a writer's batch is carved out of
// a heap and leaves a hole there. Call before the threads start. Elsewhere than glibc: nothing.
void map_large_allocations();

// One pass over every arena; true if memory went back to the system. False where there is no
// malloc_trim (not glibc).
bool trim_heap();

class HeapTrimmer {
 public:
  // Calls `trim` every `interval` on its own thread until destroyed.
  explicit HeapTrimmer(std::chrono::milliseconds interval, std::function<bool()> trim = trim_heap);
  ~HeapTrimmer();
  HeapTrimmer(const HeapTrimmer&) = delete;
  HeapTrimmer& operator=(const HeapTrimmer&) = delete;

  uint64_t passes() const;

 private:
  void run();

  std::chrono::milliseconds interval_;
  std::function<bool()> trim_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t passes_ = 0;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace nixmon::nod
