#pragma once
// The web config's `rate_limit`: a token bucket with the semantics of golang.org/x/time/rate's
// Limiter as the exporter-toolkit uses it (web/tls_config.go v0.17.1: rate.NewLimiter(
// rate.Every(interval), burst), then Allow() once per request). The bucket holds at most `burst`
// tokens and starts full; one token comes back every `interval`; a request takes one token or is
// refused.
//
// Thread-safety: allow() may be called from many threads at once.
#include <chrono>
#include <mutex>

#include "common/web-config.hh"

namespace nixmon {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // `limit.enabled()` must be true.
  RateLimiter(const RateLimit& limit, Clock::time_point now);

  // Takes a token if there is one.
  bool allow(Clock::time_point now);

 private:
  std::mutex mutex_;
  double per_second_;  // tokens added per second
  double burst_;
  double tokens_;
  Clock::time_point last_;
};

}  // namespace nixmon
