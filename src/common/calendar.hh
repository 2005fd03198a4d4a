#pragma once
// UTC calendar days of Unix times in milliseconds: nod's daily tables, retention and buckets count
// in these. Days before 1970 round down (a negative time is in the day before, not day 0).
#include <cstdint>
#include <string>
#include <tuple>

namespace nixmon {

inline constexpr int64_t ms_per_day = 86400000;

// Days since 1970-01-01 -> (year, month 1-12, day 1-31), and back (proleptic Gregorian).
std::tuple<int, unsigned, unsigned> civil_from_days(int64_t days);
int64_t days_from_civil(int64_t year, unsigned month, unsigned day);

// "YYYY-MM-DD" (UTC) of a Unix time in milliseconds.
std::string utc_day(int64_t ms);
// Days since 1970-01-01 (UTC) of a Unix time in milliseconds, rounded down (also before 1970).
int64_t utc_day_index(int64_t ms);
// Unix ms of the UTC midnight starting `day` days since 1970-01-01.
int64_t day_start_ms(int64_t day);

}  // namespace nixmon
