#include "common/duration.hh"

#include <gtest/gtest.h>

#include "common/error.hh"

using namespace nixmon;
using namespace std::chrono;

TEST(Duration, ParsesGoSpellings) {
  EXPECT_EQ(parse_duration("1h"), hours(1));
  EXPECT_EQ(parse_duration("90s"), seconds(90));
  EXPECT_EQ(parse_duration("1h30m"), minutes(90));
  EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(parse_duration("1.5s"), milliseconds(1500));
  EXPECT_EQ(parse_duration("0"), nanoseconds(0));
  EXPECT_EQ(parse_duration("2us"), microseconds(2));
}

TEST(Duration, RejectsWhatGoRejects) {
  for (const char* bad : {"", "1", "h", "1x", "-1s", "1..2s", "s1", "1h-"}) {
    EXPECT_THROW(parse_duration(bad), UsageError) << bad;
  }
}

TEST(Duration, FormatsShortest) {
  EXPECT_EQ(format_duration(hours(1)), "1h");
  EXPECT_EQ(format_duration(seconds(90)), "1m30s");
  EXPECT_EQ(format_duration(milliseconds(250)), "250ms");
  EXPECT_EQ(format_duration(nanoseconds(0)), "0s");
}
