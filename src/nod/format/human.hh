#pragma once
// Numbers for people: binary byte units ("1.2 GiB"), compact durations ("3m 12s"), and the
// placeholders tables use for "unknown". Locale-independent; thread-safe.
#include <cstdint>
#include <optional>
#include <string>

namespace nixmon::nod::format {

// 0 B, 512 B, 1.0 KiB, 1.2 GiB (one decimal from KiB on).
std::string bytes(double n);
// 850ms, 12.3s, 3m 12s, 1h 02m, 2d 03h. Negative durations (clock steps) print with a minus.
std::string duration_ms(double ms);
// 1234567 -> "1,234,567".
std::string count(uint64_t n);
// 0.1234 -> "12.3%".
std::string percent(double fraction);
// "-" for absent values in tables (never 0: unknown is not zero).
inline constexpr const char* unknown = "-";

}  // namespace nixmon::nod::format
