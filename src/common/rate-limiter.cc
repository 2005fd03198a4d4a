#include "common/rate-limiter.hh"

#include <algorithm>

namespace nixmon {

RateLimiter::RateLimiter(const RateLimit& limit, Clock::time_point now)
    : per_second_(1e9 / static_cast<double>(limit.interval.count())),
      burst_(static_cast<double>(limit.burst)),
      tokens_(std::max(0.0, burst_)),
      last_(now) {}

bool RateLimiter::allow(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (now > last_) {
    double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * per_second_);
    last_ = now;
  }
  // A bucket of fewer than one token never holds a whole one: with burst 0 every request is
  // refused, as Go's Limiter refuses any n above its burst.
  if (burst_ < 1 || tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

}  // namespace nixmon
