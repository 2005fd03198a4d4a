#pragma once
// Graceful shutdown on SIGTERM and SIGINT without async-signal-unsafe work in a handler: the
// signals are blocked in every thread and one thread waits for them with sigwait().
//
// Construct it in main before any other thread starts, so every thread inherits the blocked mask.
#include <atomic>
#include <functional>
#include <thread>

namespace nixmon {

class ShutdownSignals {
 public:
  ShutdownSignals();
  ~ShutdownSignals();
  ShutdownSignals(const ShutdownSignals&) = delete;
  ShutdownSignals& operator=(const ShutdownSignals&) = delete;

  // Calls `on_signal` (once, on the waiting thread) when SIGTERM or SIGINT arrives.
  void on_signal(std::function<void(int)> on_signal);

 private:
  std::thread waiter_;
  std::atomic<bool> closing_{false};  // set by the destructor: its wake-up is no request
};

}  // namespace nixmon
