#pragma once
// A bounded multi-producer, single-consumer queue. Producers never wait: try_push fails when the
// queue is full (the daemon's readers must never stall Nix). The consumer waits with a timeout
// and takes everything there is at once, so it can write it in one transaction.
//
// Thread-safety: all methods may be called from any thread.
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <vector>

namespace nixmon::nod {

template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}

  // False (and `item` untouched) when the queue is full or closed.
  bool try_push(T&& item) {
    {
      std::lock_guard lock(mu_);
      if (closed_ || items_.size() >= capacity_) return false;
      items_.push_back(std::move(item));
    }
    ready_.notify_one();
    return true;
  }

  // Waits for room: for `nod ingest` of a file, where waiting loses nothing and stalls nobody.
  bool push_wait(T&& item) {
    std::unique_lock lock(mu_);
    room_.wait(lock, [&] { return closed_ || items_.size() < capacity_; });
    if (closed_) return false;
    items_.push_back(std::move(item));
    lock.unlock();
    ready_.notify_one();
    return true;
  }

  // Moves up to `max` items into `out` (appending), waiting up to `timeout` for the first one.
  // Returns false once the queue is closed and empty.
  bool pop_all(std::vector<T>& out, size_t max, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    ready_.wait_for(lock, timeout, [&] { return closed_ || !items_.empty(); });
    size_t n = std::min(max, items_.size());
    for (size_t i = 0; i < n; ++i) {
      out.push_back(std::move(items_.front()));
      items_.pop_front();
    }
    bool more = !(closed_ && items_.empty());
    lock.unlock();
    if (n) room_.notify_all();
    return more || n > 0;
  }

  // Producers fail from now on; the consumer still drains what is queued.
  void close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    ready_.notify_all();
    room_.notify_all();
  }

  size_t size() const {
    std::lock_guard lock(mu_);
    return items_.size();
  }
  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable ready_, room_;
  std::deque<T> items_;
  bool closed_ = false;
};

}  // namespace nixmon::nod
