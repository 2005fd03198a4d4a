#pragma once
// Time, the other half of the programs' environment (the file system is HostRoot's HostFs): a
// wall clock that dates things and a monotonic clock that measures them, behind one interface so
// tests and benchmarks pin "now" instead of masking it in their expected output.
//
// Thread-safety: every Clock may be read from any thread; ManualClock may also be set from any.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace nixmon {

class Clock {
 public:
  using WallTime = std::chrono::system_clock::time_point;
  using MonotonicTime = std::chrono::steady_clock::time_point;

  virtual ~Clock() = default;
  virtual WallTime wall() const = 0;
  virtual MonotonicTime monotonic() const = 0;

  // wall() as Unix time in milliseconds.
  int64_t wall_ms() const;
};

// Unix time in milliseconds (floored, also before 1970).
int64_t unix_ms(Clock::WallTime t);

// The system's clocks (shared, stateless).
const Clock& system_clock();
std::shared_ptr<const Clock> system_clock_ptr();

// The system's wall clock in Unix milliseconds: system_clock().wall_ms().
int64_t now_ms();

// A clock that only moves when told to: the wall clock stands at what it was set to, the
// monotonic clock starts at an arbitrary origin and advances with it.
class ManualClock : public Clock {
 public:
  explicit ManualClock(int64_t wall_ms = 0) : wall_ms_(wall_ms) {}
  WallTime wall() const override;
  MonotonicTime monotonic() const override;
  void set_wall_ms(int64_t ms) { wall_ms_.store(ms); }
  // Moves both clocks forward.
  void advance(std::chrono::milliseconds d);

 private:
  std::atomic<int64_t> wall_ms_;
  std::atomic<int64_t> mono_ns_{0};
};

// The one test hook for "now": when the environment variable `variable` is set and not empty, a
// clock whose wall time stands at that Unix time in milliseconds while its monotonic time runs
// (durations stay real); otherwise the system clock. Throws UsageError when the value is not a
// whole number. nod's main reads NOD_NOW_MS through it, so tests and benchmarks pin the query
// CLI's "today"; nothing else in the programs reads the environment for the time.
std::shared_ptr<const Clock> clock_from_environment(const char* variable);

}  // namespace nixmon
