// The HTTP client against an in-process cpp-httplib server on loopback: what it asks for, so
// that the Debian and nixpkgs builds of cpp-httplib (0.11 and 0.43) send the same request.
#include "nixmon/http-client.hh"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <mutex>
#include <thread>
#include <vector>

using namespace nixmon::cli;

namespace {

std::string encoding_for(const char* url) {
  auto base = parse_base_url(url);
  EXPECT_TRUE(base) << url;
  return base ? accept_encoding_for(*base) : "";
}

}  // namespace

TEST(HttpClient, NoCompressionOnLoopbackGzipElsewhere) {
  EXPECT_EQ(encoding_for("http://127.0.0.1:9090"), "identity");
  EXPECT_EQ(encoding_for("http://127.0.0.2:9090/prometheus"), "identity");
  EXPECT_EQ(encoding_for("http://localhost:9093"), "identity");
  EXPECT_EQ(encoding_for("http://[::1]:9090"), "identity");
  EXPECT_EQ(encoding_for("http://localhost"), "identity");
  EXPECT_EQ(encoding_for("https://mon.example.org/prometheus"), "gzip");
  EXPECT_EQ(encoding_for("http://10.0.0.1:9090"), "gzip");
  EXPECT_EQ(encoding_for("http://[fd00::1]:9090"), "gzip");
  EXPECT_EQ(encoding_for("http://localhost.example.org"), "gzip");
}

// Regression: cpp-httplib 0.43 sends "Accept-Encoding: br, gzip, deflate" by itself, 0.11
// nothing; Prometheus then gzipped megabytes on loopback for one build and not the other.
TEST(HttpClient, GetAndPostSayWhichEncodingTheyAccept) {
  httplib::Server server;
  std::vector<std::string> seen;
  std::mutex m;
  auto record = [&](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(m);
    seen.push_back(req.has_header("Accept-Encoding") ? req.get_header_value("Accept-Encoding")
                                                     : "(none)");
    res.set_content("{}", "application/json");
  };
  server.Get("/api", record);
  server.Post("/-/reload", record);
  int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread t([&] { server.listen_after_bind(); });
  HttpEndpoint http("Test", fmt::format("http://127.0.0.1:{}", port), std::chrono::seconds(5));
  EXPECT_EQ(http.get("/api").status, 200);
  EXPECT_EQ(http.post("/-/reload", "", "text/plain").status, 200);
  server.stop();
  t.join();
  EXPECT_EQ(seen, (std::vector<std::string>{"identity", "identity"}));
}
