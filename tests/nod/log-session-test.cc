// Which stderr lines of `--log-format internal-json` are records.
#include "tracking/log-session.hh"

#include <gtest/gtest.h>

#include "nod-test-support.hh"

using namespace nixmon::nod;
using namespace nixmon::nod::test;

namespace {

// Every "@nix " line given the syslog priority prefix `prio` ("<3>").
std::string with_priority(const std::string& text, const std::string& prio) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? nl : nl - pos + 1);
    out += (line.starts_with("@nix ") ? prio : "") + line;
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  return out;
}

}  // namespace

TEST(LogSession, RecordPrefixes) {
  EXPECT_EQ(record_prefix_length("@nix {}"), 5u);
  EXPECT_EQ(record_prefix_length("<3>@nix {}"), 8u);
  EXPECT_EQ(record_prefix_length("<0>@nix {}"), 8u);
  EXPECT_EQ(record_prefix_length("<7>@nix {}"), 8u);
  EXPECT_EQ(record_prefix_length("<8>@nix {}"), 0u);  // syslog priorities are 0..7
  EXPECT_EQ(record_prefix_length("<3>nix {}"), 0u);
  EXPECT_EQ(record_prefix_length("<3>building 'x'"), 0u);  // Nix's plain stderr under systemd
  EXPECT_EQ(record_prefix_length("<3>"), 0u);
  EXPECT_EQ(record_prefix_length("{}"), 0u);
}

// Lix, and Nix before 2.28, write "<3>@nix {...}" when IN_SYSTEMD=1 (log-session.hh says where);
// such a stream was counted as plain text: 0 records.
TEST(LogSession, SyslogPriorityPrefixedRecordsAreRecords) {
  std::string text = fixture_log("build-success.log");
  Collected plain, prefixed;
  feed(plain, text);
  feed(prefixed, with_priority(text, "<3>"));
  // Every "@nix " line of the capture is a record (not merely some: a lost record would pass a
  // lower bound and, lost on both sides, the comparison below too).
  std::uint64_t nix_lines = text.starts_with("@nix ") ? 1 : 0;
  for (auto at = text.find("\n@nix "); at != std::string::npos; at = text.find("\n@nix ", at + 1))
    ++nix_lines;
  ASSERT_GT(nix_lines, 0u);
  ASSERT_EQ(plain.counters.records.load(), nix_lines);
  EXPECT_EQ(prefixed.counters.records.load(), plain.counters.records.load());
  EXPECT_EQ(prefixed.counters.plain_lines.load(), plain.counters.plain_lines.load());
  auto builds = prefixed.all<BuildRow>();
  ASSERT_EQ(builds.size(), 2u);
  EXPECT_EQ(builds[0].name, plain.all<BuildRow>()[0].name);
  EXPECT_EQ(prefixed.events.size(), plain.events.size());
  // On a json-log-path socket too.
  Collected socket;
  feed(socket, with_priority(text, "<3>"), LogSession::Input::json_log_path);
  EXPECT_EQ(socket.all<BuildRow>().size(), 2u);
}

// A connection that hangs up is stamped by the tracker's clock, not the machine's: with a clock
// standing at a known time the interrupted build's end and duration are exact.
TEST(LogSession, AHangUpIsStampedByTheTrackersClock) {
  nixmon::ManualClock clock(1700000000000);
  clock.advance(std::chrono::seconds(90));  // monotonic 90 s, wall 1700000090000
  Counters counters;
  std::vector<Event> events;
  ActivityTracker tracker(
      [&](Event&& e) {
        events.push_back(std::move(e));
        return true;
      },
      counters, clock);
  std::string text = fixture_log("build-success.log");
  auto cut = text.find("\"type\":101}");  // the first build's start
  text = text.substr(0, text.find('\n', cut) + 1);
  {
    LogSession session(tracker, counters, LogSession::Input::internal_json);
    LineSplitter splitter(1 << 20);
    auto buf = splitter.writable();
    ASSERT_GE(buf.size(), text.size());
    std::copy_n(text.data(), text.size(), buf.data());
    session.set_stamp(Stamp{1700000030000, 30'000'000'000});  // everything arrived at 30 s
    splitter.commit(text.size(), session);
    splitter.finish(session);
  }  // hangs up at the clock's 90 s
  std::vector<BuildRow> builds;
  for (auto& e : events)
    if (auto* b = std::get_if<BuildRow>(&e)) builds.push_back(*b);
  ASSERT_EQ(builds.size(), 1u);
  EXPECT_EQ(builds[0].span.outcome, Outcome::interrupted);
  EXPECT_EQ(builds[0].span.end_ms, 1700000090000);
  EXPECT_EQ(builds[0].span.duration_ms, 60000);
}
