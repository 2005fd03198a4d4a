#include "common/calendar.hh"

#include <gtest/gtest.h>

using namespace nixmon;

TEST(Calendar, DaysAndDatesOfKnownInstants) {
  EXPECT_EQ(utc_day(0), "1970-01-01");
  EXPECT_EQ(utc_day(951782400000), "2000-02-29");  // a leap day of a year divisible by 400
  EXPECT_EQ(utc_day(1795262400000), "2026-11-21");
  EXPECT_EQ(days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28), 2);
  EXPECT_EQ(days_from_civil(1900, 3, 1) - days_from_civil(1900, 2, 28), 1);  // 1900: no leap day
}

TEST(Calendar, TimesBefore1970RoundDownToTheirDay) {
  EXPECT_EQ(utc_day_index(-1), -1);
  EXPECT_EQ(utc_day(-1), "1969-12-31");
  EXPECT_EQ(utc_day_index(ms_per_day - 1), 0);
  EXPECT_EQ(day_start_ms(utc_day_index(-1)), -ms_per_day);
}

TEST(Calendar, CivilDatesRoundTrip) {
  for (int64_t day = -800000; day <= 800000; day += 997) {
    auto [y, m, d] = civil_from_days(day);
    EXPECT_EQ(days_from_civil(y, m, d), day) << y << "-" << m << "-" << d;
  }
}
