#include "ingest/line-splitter.hh"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace nixmon::nod;

namespace {
struct Lines {
  std::vector<std::string> lines;
  int too_long_count = 0;
  void line(std::string_view l, size_t capacity) {
    EXPECT_GE(capacity, l.size() + simdjson::SIMDJSON_PADDING);
    lines.emplace_back(l);
  }
  void too_long() { ++too_long_count; }
};

Lines split(const std::string& text, size_t max_line, size_t chunk) {
  LineSplitter s(max_line, 16);
  Lines out;
  for (size_t off = 0; off < text.size();) {
    auto buf = s.writable();
    size_t n = std::min({buf.size(), chunk, text.size() - off});
    std::copy_n(text.data() + off, n, buf.data());
    off += n;
    s.commit(n, out);
  }
  s.finish(out);
  return out;
}
}  // namespace

TEST(LineSplitter, SplitsAcrossReads) {
  for (size_t chunk : {1, 3, 64, 4096}) {
    auto out = split("a\nbb\n\nccc\nlast", 100, chunk);
    EXPECT_EQ(out.lines, (std::vector<std::string>{"a", "bb", "", "ccc", "last"})) << chunk;
    EXPECT_EQ(out.too_long_count, 0);
  }
}

TEST(LineSplitter, GrowsUpToTheLimitThenSkipsTheLineOnce) {
  std::string big(1000, 'x');
  for (size_t chunk : {1, 7, 300, 5000}) {
    auto out = split("before\n" + big + "\nafter\n" + std::string(99, 'y') + "\n", 100, chunk);
    EXPECT_EQ(out.lines, (std::vector<std::string>{"before", "after", std::string(99, 'y')}))
        << chunk;
    EXPECT_EQ(out.too_long_count, 1) << chunk;
  }
}

TEST(LineSplitter, TooLongLastLineWithoutNewline) {
  auto out = split("ok\n" + std::string(500, 'z'), 100, 64);
  EXPECT_EQ(out.lines, (std::vector<std::string>{"ok"}));
  EXPECT_EQ(out.too_long_count, 1);
}

TEST(LineSplitter, MemoryStaysBounded) {
  LineSplitter s(1000, 16);
  Lines out;
  for (int i = 0; i < 10000; ++i) {  // 10 MB without a newline
    auto buf = s.writable();
    size_t n = std::min<size_t>(buf.size(), 1000);
    std::fill_n(buf.data(), n, 'q');
    s.commit(n, out);
    ASSERT_LE(s.allocated(), 1001 + simdjson::SIMDJSON_PADDING);
  }
  auto buf = s.writable();
  buf[0] = '\n';
  s.commit(1, out);
  EXPECT_EQ(out.too_long_count, 1);
  EXPECT_TRUE(out.lines.empty());
}
