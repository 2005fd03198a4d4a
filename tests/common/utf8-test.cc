#include "common/utf8.hh"

#include <gtest/gtest.h>

using namespace nixmon;

namespace {
const std::string fffd = "\xEF\xBF\xBD";
}

TEST(Utf8, KeepsValidText) {
  for (std::string s : {"", "ok", "ok \xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xEF\xBF\xBF",
                        "\xF4\x8F\xBF\xBF" /* U+10FFFF */, "\xED\x9F\xBF"}) {
    EXPECT_TRUE(is_valid_utf8(s)) << s;
    EXPECT_EQ(repair_utf8(s), s);
  }
}

TEST(Utf8, ReplacesEachBadByte) {
  EXPECT_EQ(repair_utf8("bad \xff!"), "bad " + fffd + "!");
  EXPECT_EQ(repair_utf8("\x80"), fffd);  // a continuation byte alone
  EXPECT_EQ(repair_utf8("\xF8\x88\x80\x80\x80"), fffd + fffd + fffd + fffd + fffd);  // 5-byte form
}

TEST(Utf8, RejectsOverlongForms) {
  EXPECT_EQ(repair_utf8("\xc0\xaf"), fffd + fffd);  // '/' in two bytes
  EXPECT_EQ(repair_utf8("\xC1\xBF"), fffd + fffd);
  EXPECT_EQ(repair_utf8("\xE0\x80\xAF"), fffd + fffd + fffd);             // '/' in three
  EXPECT_EQ(repair_utf8("\xF0\x80\x80\xAF"), fffd + fffd + fffd + fffd);  // '/' in four
  EXPECT_FALSE(is_valid_utf8("\xE0\x9F\xBF"));
  EXPECT_TRUE(is_valid_utf8("\xE0\xA0\x80"));  // U+0800, the first three-byte code point
}

TEST(Utf8, RejectsSurrogatesAndBeyondUnicode) {
  EXPECT_EQ(repair_utf8("\xed\xa0\x80"), fffd + fffd + fffd);             // U+D800
  EXPECT_EQ(repair_utf8("\xED\xBF\xBF"), fffd + fffd + fffd);             // U+DFFF
  EXPECT_EQ(repair_utf8("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // U+110000
  EXPECT_EQ(repair_utf8("\xF5\x80\x80\x80"), fffd + fffd + fffd + fffd);
}

TEST(Utf8, RepairsTruncatedSequences) {
  EXPECT_EQ(repair_utf8("\xC3"), fffd);
  EXPECT_EQ(repair_utf8("cut \xe2\x82"), "cut " + fffd + fffd);
  EXPECT_EQ(repair_utf8("\xF0\x9F\x98"), fffd + fffd + fffd);
  EXPECT_EQ(repair_utf8("\xE2\x82x"), fffd + fffd + "x");  // interrupted by ASCII
  EXPECT_FALSE(is_valid_utf8("\xF0\x9F\x98"));
  EXPECT_EQ(utf8_sequence_length("\xF0\x9F\x98\x80", 0), 4u);
  EXPECT_EQ(utf8_sequence_length("\xF0\x9F\x98", 0), 0u);
}
