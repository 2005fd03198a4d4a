#include "tracking/events.hh"

#include <array>
#include <chrono>
#include <utility>

namespace nixmon::nod {

Stamp Stamp::now(const Clock& clock) {
  return {clock.wall_ms(),
          std::chrono::duration_cast<std::chrono::nanoseconds>(clock.monotonic().time_since_epoch())
              .count()};
}

namespace {

// The names stored in the database and shown to people: one table each, both directions.
constexpr std::array<std::pair<Outcome, std::string_view>, 5> outcome_names{{
    {Outcome::success, "success"},
    {Outcome::failed, "failed"},
    {Outcome::cancelled, "cancelled"},
    {Outcome::interrupted, "interrupted"},
    {Outcome::unknown, "unknown"},
}};

constexpr std::array<std::pair<FailureKind, std::string_view>, 7> failure_kind_names{{
    {FailureKind::builder, "builder"},
    {FailureKind::dependency, "dependency"},
    {FailureKind::rejected, "rejected"},
    {FailureKind::timeout, "timeout"},
    {FailureKind::log_limit, "log-limit"},
    {FailureKind::hash_mismatch, "hash-mismatch"},
    {FailureKind::remote, "remote"},
}};

}  // namespace

std::string_view outcome_name(Outcome o) {
  for (auto& [value, name] : outcome_names)
    if (value == o) return name;
  return "unknown";
}

std::string_view failure_kind_name(FailureKind k) {
  for (auto& [value, name] : failure_kind_names)
    if (value == k) return name;
  return "builder";
}

std::optional<FailureKind> failure_kind_from_name(std::string_view name) {
  for (auto& [value, n] : failure_kind_names)
    if (n == name) return value;
  return std::nullopt;
}

}  // namespace nixmon::nod
