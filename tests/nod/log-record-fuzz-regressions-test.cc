// Inputs the fuzzers (fuzz/) found, each pinned by a test named after the bug.
#include <gtest/gtest.h>

#include <string>
#include <variant>

#include "ingest/log-record.hh"

using namespace nixmon::nod;

// fuzz-nix-log-record: the fast path read this garbage (an unescaped quote and junk inside what its
// backwards scan took for the one string of a build log line) as a log line of activity
// 46892452937734, while simdjson rejects the line. It must be counted as not-json, on both paths.
TEST(LogRecordFuzzRegressions, FastPathAcceptedGarbageInsideALogLineString) {
  const std::string line =
      "{\"action\":\"result\",\"fields\":[\"b uses "
      "/nix/store/"
      "5lx5scvv6y1mb4q13l0hiscw5lx5scvv6y1mb4q13l0hiscw7g577z77-a-i5fx31730\"],\"id\":"
      "46892452937734,\"type\":17g577z77-a-i5fx31730\"],\"id\":46892452937734,\"type\":101}";
  for (bool fast : {true, false}) {
    LogRecordParser p;
    p.set_fast_path(fast);
    auto r = p.parse_copy(line);
    ASSERT_TRUE(std::holds_alternative<Malformed>(r)) << "fast path " << fast;
    EXPECT_EQ(std::get<Malformed>(r), Malformed::not_json);
  }
  // Well-formed log lines, escapes included, still take the fast path and agree with the DOM.
  for (std::string ok :
       {R"({"action":"result","fields":["a \"quoted\" \\ \u00e9 line"],"id":5,"type":101})",
        R"({"action":"result","fields":["\u001b[31;1merror"],"id":5,"type":107})"}) {
    LogRecordParser p;
    auto r = p.parse_copy(ok);
    ASSERT_TRUE(std::holds_alternative<LogRecord>(r)) << ok;
    EXPECT_EQ(std::get<LogRecord>(r).id, 5u);
    EXPECT_EQ(std::get<LogRecord>(r).fields.size(), 1u);
  }
  for (std::string bad : {R"({"action":"result","fields":["bad \x escape"],"id":5,"type":101})",
                          R"({"action":"result","fields":["short \u12"],"id":5,"type":101})"}) {
    LogRecordParser p;
    EXPECT_TRUE(std::holds_alternative<Malformed>(p.parse_copy(bad))) << bad;
  }
}

// fuzz-nix-log-record: numbers with leading zeros (not JSON) were read by the fast path as ids and
// progress counts; simdjson rejects them.
TEST(LogRecordFuzzRegressions, FastPathAcceptedLeadingZeros) {
  for (std::string bad : {R"({"action":"stop","id":0234786})",
                          R"({"action":"result","fields":[1,02,0,0],"id":5,"type":105})",
                          R"({"action":"result","fields":[1,-02,0,0],"id":5,"type":105})",
                          R"({"action":"result","fields":["x"],"id":05,"type":101})"}) {
    for (bool fast : {true, false}) {
      LogRecordParser p;
      p.set_fast_path(fast);
      EXPECT_TRUE(std::holds_alternative<Malformed>(p.parse_copy(bad))) << bad << " fast " << fast;
    }
  }
  LogRecordParser p;
  auto r = p.parse_copy(R"({"action":"result","fields":[0,10,-0,0],"id":0,"type":105})");
  ASSERT_TRUE(std::holds_alternative<LogRecord>(r));
  EXPECT_EQ(std::get<LogRecord>(r).fields.size(), 4u);
}
