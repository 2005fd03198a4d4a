#include "exporter/flake/share-message.hh"

#include <gtest/gtest.h>

#include "common/error.hh"
#include "common/json-writer.hh"

using namespace nixmon;
using namespace nixmon::exporter;

TEST(ShareMessage, RoundTrips) {
  ShareMessage m;
  m.flake_url = "git+https://example.org/me/\"config\"";
  m.metadata.revision = "5c21539b5c602dfc73b6eb39ff95a630554a85e5";
  m.metadata.last_modified = 1700000100;
  m.metadata.inputs = {{"nixpkgs", "abc", "github", 1700000000},
                       {"local", std::nullopt, "path", std::nullopt}};
  m.fetched_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000123500));
  m.host = "web1-0badcafe";
  auto text = encode_share_message(m);
  auto back = decode_share_message(text);
  EXPECT_EQ(back.flake_url, m.flake_url);
  EXPECT_EQ(back.metadata, m.metadata);
  EXPECT_EQ(back.host, m.host);
  EXPECT_EQ(
      std::chrono::duration_cast<std::chrono::milliseconds>(back.fetched_at - m.fetched_at).count(),
      0);
}

TEST(ShareMessage, GarbageIsRejectedWithAReason) {
  std::string huge = R"({"v":1,"flake_url":")" + std::string(max_share_message_bytes, 'x') +
                     R"(","host":"h","fetched_at":1})";
  for (std::string_view bad : {
           std::string_view(""),
           std::string_view("\x00\x01\x02", 3),
           std::string_view("hello"),
           std::string_view("[]"),
           std::string_view(R"({"flake_url":"u","host":"h","fetched_at":1})"),        // no v
           std::string_view(R"({"v":2,"flake_url":"u","host":"h","fetched_at":1})"),  // future
           std::string_view(R"({"v":1,"host":"h","fetched_at":1})"),                  // no url
           std::string_view(R"({"v":1,"flake_url":"u","fetched_at":1})"),             // no host
           std::string_view(R"({"v":1,"flake_url":"u","host":"h"})"),                 // no time
           std::string_view(R"({"v":1,"flake_url":"u","host":"h","fetched_at":-5})"),
           std::string_view(R"({"v":1,"flake_url":"u","host":"h","fetched_at":1,"revision":7})"),
           std::string_view(R"({"v":1,"flake_url":"u","host":"h","fetched_at":1,"inputs":{}})"),
           std::string_view(R"({"v":1,"flake_url":"u","host":"h","fetched_at":1,"inputs":[1]})"),
           std::string_view(
               R"({"v":1,"flake_url":"u","host":"h","fetched_at":1,"inputs":[{"name":"n"}]})"),
           std::string_view(huge),
       }) {
    EXPECT_THROW(decode_share_message(bad), Error) << bad.substr(0, 80);
  }
}

TEST(JsonWriter, StringsAreEscapedAndAlwaysValidUtf8) {
  std::string quoted;
  append_json_string(quoted, "a\"b\\c\n\x01 \xff");
  EXPECT_EQ(quoted, R"("a\"b\\c\n\u0001 )"
                    "\xef\xbf\xbd\"");
}
