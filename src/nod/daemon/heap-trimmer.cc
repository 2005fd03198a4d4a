#include "daemon/heap-trimmer.hh"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "common/log.hh"

namespace nixmon::nod {

void map_large_allocations() {
#if defined(__GLIBC__)
  // Setting it also keeps glibc from moving the threshold (mallopt(3), M_MMAP_THRESHOLD).
  ::mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
}

bool trim_heap() {
#if defined(__GLIBC__)
  return ::malloc_trim(0) != 0;
#else
  return false;
#endif
}

HeapTrimmer::HeapTrimmer(std::chrono::milliseconds interval, std::function<bool()> trim)
    : interval_(interval), trim_(std::move(trim)), thread_([this] { run(); }) {}

HeapTrimmer::~HeapTrimmer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

uint64_t HeapTrimmer::passes() const {
  std::lock_guard lock(mu_);
  return passes_;
}

void HeapTrimmer::run() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, interval_, [this] { return stop_; })) {
    lock.unlock();
    auto start = std::chrono::steady_clock::now();
    bool released = trim_();
    auto took = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
    log::debug("heap trim: {} in {} us", released ? "memory released" : "nothing released",
               took.count());
    lock.lock();
    ++passes_;
  }
}

}  // namespace nixmon::nod
