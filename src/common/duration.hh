#pragma once
// Go-style durations ("1h", "90s", "1h30m", "250ms"), the spelling the Go nixos-exporter's flags
// use.
#include <chrono>
#include <string>
#include <string_view>

namespace nixmon {

// Throws UsageError naming the bad text. Units: ns, us, µs, ms, s, m, h; no sign; "0" alone is
// allowed.
std::chrono::nanoseconds parse_duration(std::string_view text);

// A flag's duration that must be at least a millisecond: "--flag.name: <why>" on bad text.
std::chrono::milliseconds parse_positive_duration(std::string_view flag, std::string_view text);

// The shortest Go-style spelling: "1h0m0s" is written "1h", 90s as "1m30s".
std::string format_duration(std::chrono::nanoseconds d);

}  // namespace nixmon
