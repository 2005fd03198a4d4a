#include "ingest/log-record.hh"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include "support/test-support.hh"
#include "tracking/activity-tracker.hh"

using namespace nixmon::nod;

namespace {

LogRecord ok(LogRecordParser& p, std::string_view line) {
  auto r = p.parse_copy(line);
  if (auto* m = std::get_if<Malformed>(&r)) ADD_FAILURE() << malformed_name(*m) << " for " << line;
  return std::get<LogRecord>(r);
}

Malformed bad(LogRecordParser& p, std::string_view line) {
  auto r = p.parse_copy(line);
  EXPECT_TRUE(std::holds_alternative<Malformed>(r)) << line;
  return std::holds_alternative<Malformed>(r) ? std::get<Malformed>(r) : Malformed::empty;
}

}  // namespace

TEST(LogRecord, BuildStartFromNix28) {
  LogRecordParser p;
  auto r = ok(
      p,
      R"({"action":"start","fields":["/nix/store/z5jyrrv3ggf1jf6ai0fqajavw9lr1ccg-a.drv","",1,1],"id":21358872363014,"level":3,"text":"building '/nix/store/z5jyrrv3ggf1jf6ai0fqajavw9lr1ccg-a.drv'","type":105})");
  EXPECT_EQ(r.action, Action::start);
  EXPECT_EQ(r.id, 21358872363014u);
  EXPECT_EQ(r.type, 105);
  EXPECT_EQ(r.level, 3);
  EXPECT_FALSE(r.parent);  // Nix < 2.18 sends none
  ASSERT_EQ(r.fields.size(), 4u);
  EXPECT_EQ(r.string_field(0), "/nix/store/z5jyrrv3ggf1jf6ai0fqajavw9lr1ccg-a.drv");
  EXPECT_EQ(r.string_field(1), "");
  EXPECT_EQ(r.int_field(2), 1);
  EXPECT_FALSE(r.int_field(0));  // a string where a number is asked: absent, not an error
}

TEST(LogRecord, IdsAboveInt64AreKeptBitForBit) {
  LogRecordParser p;
  // Bit 63 set (the proposed remote marker) and a parent, as newer Nix sends.
  auto r = ok(p, R"({"action":"stop","id":9223372036854775809,"parent":12})");
  EXPECT_EQ(r.id, 9223372036854775809u);
  EXPECT_EQ(r.parent, 12u);
}

TEST(LogRecord, MessageWithNullsAndUnknownKeys) {
  LogRecordParser p;
  auto r = ok(
      p,
      R"({"action":"msg","column":null,"file":null,"level":0,"line":null,"msg":"\u001b[31;1merror:\u001b[0m x","raw_msg":"x","trace":[{"a":1}],"zzz":{"new":true}})");
  EXPECT_EQ(r.action, Action::msg);
  EXPECT_EQ(r.level, 0);
  EXPECT_EQ(r.msg, "\x1b[31;1merror:\x1b[0m x");
  EXPECT_EQ(r.raw_msg, "x");
}

TEST(LogRecord, UnknownActionIsARecordNotAnError) {
  LogRecordParser p;
  auto r = ok(p, R"({"action":"teleport","id":1})");
  EXPECT_EQ(r.action, Action::unknown);
  EXPECT_EQ(r.action_name, "teleport");
}

TEST(LogRecord, DeterminatePayloadIsNoted) {
  LogRecordParser p;
  auto r = ok(p, R"({"action":"result","id":5,"payload":{"success":true},"type":110})");
  EXPECT_TRUE(r.has_payload);
  EXPECT_TRUE(r.fields.empty());
}

TEST(LogRecord, MalformedReasons) {
  LogRecordParser p;
  EXPECT_EQ(bad(p, "garbage \x01\x02"), Malformed::not_json);
  EXPECT_EQ(bad(p, R"({"action":"start","id":1)"), Malformed::not_json);  // truncated
  EXPECT_EQ(bad(p, "[1,2]"), Malformed::wrong_type);
  EXPECT_EQ(bad(p, R"({"action":"start","id":1})"), Malformed::missing_key);  // no type
  EXPECT_EQ(bad(p, R"({"id":1})"), Malformed::missing_key);
  EXPECT_EQ(bad(p, R"({"action":"stop","id":"seven"})"), Malformed::wrong_type);
  EXPECT_EQ(bad(p, R"({"action":"stop","id":-1})"), Malformed::wrong_type);
  EXPECT_EQ(bad(p, "   "), Malformed::empty);
}

TEST(LogRecord, InvalidUtf8IsRepairedNotLost) {
  LogRecordParser p;
  bool repaired = false;
  auto r = p.parse_copy(
      "{\"action\":\"result\",\"fields\":[\"bad \xff\xfe bytes\"],\"id\":7,\"type\":101}",
      &repaired);
  ASSERT_TRUE(std::holds_alternative<LogRecord>(r));
  EXPECT_TRUE(repaired);
  EXPECT_EQ(std::get<LogRecord>(r).string_field(0), "bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");
}

// The fast path for Nix's hot record shapes must read exactly what simdjson reads, on every line
// of the real captures and on lines made to look like them.
TEST(LogRecord, FastPathAgreesWithTheDomParser) {
  std::vector<std::string> lines;
  for (auto name : {"build-success.log", "build-failure.log", "substitution-file-cache.log"}) {
    std::string text =
        nixmon::test::read_text(nixmon::test::source_dir() / "tests/fixtures/nix-logs" / name);
    for (size_t a = 0, b; a < text.size(); a = b + 1) {
      b = text.find('\n', a);
      std::string l = text.substr(a, b - a);
      if (l.starts_with("@nix ")) lines.push_back(l.substr(5));
    }
  }
  lines.insert(
      lines.end(),
      {
          R"({"action":"result","fields":["a \"quoted\" line ],\"id\":1"],"id":2,"type":101})",
          R"({"action":"result","fields":["two","strings"],"id":3,"type":101})",
          R"({"action":"result","fields":["ends in backslash \\"],"id":4,"type":101})",
          R"({"action":"result","fields":[1,-2,3,4],"id":5,"type":105})",
          R"({"action":"result","fields":[1,"x"],"id":5,"type":105})",
          R"({"action":"result","fields":[],"id":5,"type":105})",
          R"({"action":"result","fields":[1,],"id":5,"type":105})",
          R"({"action":"stop","id":18446744073709551615})",
          R"({"action":"stop","id":18446744073709551616})",
          R"({"action":"stop","id":})",
          R"({"action":"result","fields":["x"],"id":1,"type":101} )",
      });
  LogRecordParser fast, dom;
  dom.set_fast_path(false);
  auto show = [](const std::variant<LogRecord, Malformed>& v) {
    if (auto* m = std::get_if<Malformed>(&v)) return std::string(malformed_name(*m));
    auto& r = std::get<LogRecord>(v);
    std::string s = std::string(r.action_name) + " " + std::to_string(r.id) + " " +
                    std::to_string(r.type) + " [";
    for (auto& f : r.fields) {
      if (auto* n = std::get_if<int64_t>(&f))
        s += std::to_string(*n) + ",";
      else if (std::holds_alternative<std::string_view>(f))
        s += "str,";
      else
        s += "-,";
    }
    return s + "]";
  };
  for (auto& l : lines) EXPECT_EQ(show(fast.parse_copy(l)), show(dom.parse_copy(l))) << l;
}

// Determinate Nix 3.20+ adds "sid" to every record (DeterminateSystems/nix-src
// src/libutil/logging.cc, JSONLogger::write: `json["sid"] = getSessionId()`, line 279 at v3.22.2;
// stopActivity and result build the records below, keys sorted by nlohmann::json), which sent every
// record of such a stream to the DOM parser. The fast path skips it: a log line's text, which the
// fast path never decodes, comes back empty from it, and the DOM path's reading is the same.
TEST(LogRecord, FastPathTakesDeterminateNixSessionIds) {
  constexpr std::string_view sid = R"("sid":"01968a3c-7e2f-7c3a-9b1e-5d2f4a6b8c90")";
  std::string log_line =
      fmt::format(R"({{"action":"result","fields":["make all"],"id":7,{},"type":101}})", sid);
  std::string progress =
      fmt::format(R"({{"action":"result","fields":[1,2,0,0],"id":8,{},"type":105}})", sid);
  std::string stop = fmt::format(R"({{"action":"stop","id":9,{}}})", sid);
  LogRecordParser fast, dom;
  dom.set_fast_path(false);
  auto fl = ok(fast, log_line);
  EXPECT_EQ(fl.string_field(0), "");  // read by the fast path (it does not decode log lines)
  EXPECT_EQ(ok(dom, log_line).string_field(0), "make all");
  EXPECT_EQ(fl.id, 7u);
  EXPECT_EQ(fl.type, 101);
  auto fp = ok(fast, progress), dp = ok(dom, progress);
  EXPECT_EQ(fp.id, dp.id);
  EXPECT_EQ(fp.int_field(1), 2);
  EXPECT_EQ(fp.fields.size(), dp.fields.size());
  EXPECT_EQ(ok(fast, stop).id, 9u);
  EXPECT_EQ(ok(fast, stop).action, Action::stop);
}

// What looks like a sid but is not one is left to simdjson, which decides as before.
TEST(LogRecord, FastPathSidLookalikesAgreeWithTheDomParser) {
  LogRecordParser fast, dom;
  dom.set_fast_path(false);
  for (std::string_view l : {
           R"({"action":"stop","id":9,"sid":"a\"b"})",
           R"({"action":"stop","id":9,"sid":""})",
           R"({"action":"stop","id":9,"sidx":"x"})",
           R"({"action":"stop","id":9,"sid":"x})",
           R"({"action":"stop","id":9"sid":"x"})",
           R"({"action":"stop","sid":"x"})",
           R"({"action":"result","fields":[1],"id":8,"sid":"s","type":105})",
           R"({"action":"result","fields":[1],"id":8,"sid":"s\u0041","type":105})",
           R"({"action":"result","fields":[1],"id":8,"sid":"s","sid":"t","type":105})",
           R"({"action":"result","fields":["x"],"sid":"s","type":101})",
       }) {
    auto a = fast.parse_copy(l);
    auto b = dom.parse_copy(l);
    ASSERT_EQ(a.index(), b.index()) << l;
    if (auto* m = std::get_if<Malformed>(&a)) {
      EXPECT_EQ(*m, std::get<Malformed>(b)) << l;
      continue;
    }
    EXPECT_EQ(std::get<LogRecord>(a).id, std::get<LogRecord>(b).id) << l;
    EXPECT_EQ(std::get<LogRecord>(a).action, std::get<LogRecord>(b).action) << l;
    EXPECT_EQ(std::get<LogRecord>(a).fields.size(), std::get<LogRecord>(b).fields.size()) << l;
  }
}

// A caller whose buffer ends with the line (no padding) gets the record, and the parser reads
// nothing past the buffer: an exact-size heap block makes AddressSanitizer (the asan preset) see
// any read past it.
TEST(LogRecord, LineWithoutPaddingIsCopiedNotReadPast) {
  const std::string text = R"({"action":"stop","id":42})";
  for (bool fast : {true, false}) {
    auto exact = std::make_unique<char[]>(text.size());
    std::memcpy(exact.get(), text.data(), text.size());
    LogRecordParser p;
    p.set_fast_path(fast);
    auto r = p.parse(std::string_view(exact.get(), text.size()), text.size());
    ASSERT_TRUE(std::holds_alternative<LogRecord>(r)) << "fast path " << fast;
    EXPECT_EQ(std::get<LogRecord>(r).id, 42u);
  }
}
