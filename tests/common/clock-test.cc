#include "common/clock.hh"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "common/error.hh"

using namespace nixmon;

TEST(Clock, UnixMillisecondsFloor) {
  using Wall = Clock::WallTime;
  EXPECT_EQ(unix_ms(Wall(std::chrono::milliseconds(1795262400123))), 1795262400123);
  EXPECT_EQ(unix_ms(Wall(std::chrono::microseconds(-1))), -1);  // before 1970: down
  int64_t before = now_ms();
  int64_t mid = system_clock().wall_ms();
  EXPECT_LE(before, mid);
  EXPECT_LE(mid, now_ms());
}

TEST(Clock, ManualClockMovesOnlyWhenTold) {
  ManualClock c(1000);
  auto mono = c.monotonic();
  EXPECT_EQ(c.wall_ms(), 1000);
  EXPECT_EQ(c.monotonic(), mono);
  c.advance(std::chrono::milliseconds(1500));
  EXPECT_EQ(c.wall_ms(), 2500);
  EXPECT_EQ(c.monotonic() - mono, std::chrono::milliseconds(1500));
  c.set_wall_ms(5);  // a wall clock step; the monotonic clock does not follow
  EXPECT_EQ(c.wall_ms(), 5);
  EXPECT_EQ(c.monotonic() - mono, std::chrono::milliseconds(1500));
}

TEST(Clock, EnvironmentHookPinsTheWallClockOnly) {
  ::unsetenv("NIXMON_TEST_NOW_MS");
  EXPECT_EQ(clock_from_environment("NIXMON_TEST_NOW_MS").get(), &system_clock());
  ::setenv("NIXMON_TEST_NOW_MS", "1795262400000", 1);
  auto pinned = clock_from_environment("NIXMON_TEST_NOW_MS");
  EXPECT_EQ(pinned->wall_ms(), 1795262400000);
  auto before = std::chrono::steady_clock::now();
  auto mono = pinned->monotonic();  // real, running
  EXPECT_LE(before, mono);
  EXPECT_LE(mono, std::chrono::steady_clock::now());
  ::setenv("NIXMON_TEST_NOW_MS", "12x", 1);
  try {
    clock_from_environment("NIXMON_TEST_NOW_MS");
    FAIL() << "a malformed time was taken";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "NIXMON_TEST_NOW_MS='12x' is not a Unix time in milliseconds");
  }
  ::unsetenv("NIXMON_TEST_NOW_MS");
}
