#include "common/clock.hh"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include "common/error.hh"

namespace nixmon {

namespace {

class SystemClock : public Clock {
 public:
  WallTime wall() const override { return std::chrono::system_clock::now(); }
  MonotonicTime monotonic() const override { return std::chrono::steady_clock::now(); }
};

// Wall time pinned, monotonic time real.
class PinnedWallClock : public Clock {
 public:
  explicit PinnedWallClock(int64_t ms) : wall_(std::chrono::milliseconds(ms)) {}
  WallTime wall() const override { return wall_; }
  MonotonicTime monotonic() const override { return std::chrono::steady_clock::now(); }

 private:
  WallTime wall_;
};

}  // namespace

int64_t unix_ms(Clock::WallTime t) {
  return std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

int64_t Clock::wall_ms() const {
  return unix_ms(wall());
}

std::shared_ptr<const Clock> system_clock_ptr() {
  static const auto clock = std::make_shared<const SystemClock>();
  return clock;
}

const Clock& system_clock() {
  static const Clock& clock = *system_clock_ptr();
  return clock;
}

int64_t now_ms() {
  return system_clock().wall_ms();
}

Clock::WallTime ManualClock::wall() const {
  return WallTime(std::chrono::milliseconds(wall_ms_.load()));
}

Clock::MonotonicTime ManualClock::monotonic() const {
  return MonotonicTime(std::chrono::nanoseconds(mono_ns_.load()));
}

void ManualClock::advance(std::chrono::milliseconds d) {
  wall_ms_.fetch_add(d.count());
  mono_ns_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

std::shared_ptr<const Clock> clock_from_environment(const char* variable) {
  const char* text = std::getenv(variable);
  if (!text || !*text) return system_clock_ptr();
  int64_t ms = 0;
  const char* end = text + std::strlen(text);
  auto [p, ec] = std::from_chars(text, end, ms);
  if (ec != std::errc() || p != end)
    throw UsageError(fmt::format("{}='{}' is not a Unix time in milliseconds", variable, text));
  return std::make_shared<const PinnedWallClock>(ms);
}

}  // namespace nixmon
