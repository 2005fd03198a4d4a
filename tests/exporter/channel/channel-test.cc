// The channel collector: root's channel list as nix-channel reads it, the release date in a
// channel's .version-suffix, upstream answers and NATS messages, and the collector on fake roots
// compared as whole text against golden files (NIXMON_ACCEPT=1 rewrites them).
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <fstream>
#include <regex>
#include <thread>

#include "common/error.hh"
#include "exporter/channel/channel-config.hh"
#include "exporter/channel/channel-message.hh"
#include "exporter/channel/channel-upstream.hh"
#include "exporter/channel/root-channels.hh"
#include "exporter/collectors/collectors.hh"
#include "exporter/options.hh"
#include "support/test-support.hh"

using namespace nixmon;
using namespace nixmon::exporter;
using namespace std::chrono;
namespace fs = std::filesystem;

TEST(ChannelList, ReadsLikeNixChannel) {
  auto list = parse_channel_list(
      "https://channels.nixos.org/nixos-24.05 nixos\n"
      "  # https://channels.nixos.org/nixos-23.11 old\n"
      "\n"
      "https://channels.nixos.org/nixpkgs-unstable///\n"
      "https://example.org/a  b\n"
      "https://channels.nixos.org/nixos-25.05 nixos\n");
  std::vector<ListedChannel> want = {
      {"b", "https://example.org/a"},
      {"nixos", "https://channels.nixos.org/nixos-25.05"},  // the later line wins
      {"nixpkgs-unstable", "https://channels.nixos.org/nixpkgs-unstable"},
  };
  EXPECT_EQ(list, want);
  EXPECT_TRUE(parse_channel_list("").empty());
  EXPECT_TRUE(parse_channel_list("   \n#x\n").empty());
}

TEST(ChannelVersionSuffix, DateOnlyWhenTheSuffixCarriesOne) {
  EXPECT_EQ(release_date_from_version_suffix(".20251019.5e2a59a"), sys_days(2025y / 10 / 19));
  EXPECT_EQ(release_date_from_version_suffix("pre20240601.abcdef0\n"), sys_days(2024y / 6 / 1));
  EXPECT_EQ(release_date_from_version_suffix(".7376.b134951a4c9f"), std::nullopt);  // revCount
  EXPECT_EQ(release_date_from_version_suffix("pre130979.gfedcba"), std::nullopt);
  EXPECT_EQ(release_date_from_version_suffix(".20251341.5e2a59a"), std::nullopt);  // no month 13
  EXPECT_EQ(release_date_from_version_suffix("20251019.5e2a59a"), std::nullopt);
  EXPECT_EQ(release_date_from_version_suffix(""), std::nullopt);
}

TEST(ChannelUpstream, GitRevisionAndUrls) {
  EXPECT_EQ(parse_git_revision("B134951A4C9FB4A1B5CE4EC8A8C9F5D8B71C2F3E\n"),
            "b134951a4c9fb4a1b5ce4ec8a8c9f5d8b71c2f3e");
  EXPECT_EQ(parse_git_revision("<html>"), std::nullopt);
  EXPECT_EQ(parse_git_revision("abc"), std::nullopt);
  auto s = split_http_url("https://channels.nixos.org/nixos-24.05");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->scheme_host_port, "https://channels.nixos.org");
  EXPECT_EQ(s->path, "/nixos-24.05");
  s = split_http_url("http://127.0.0.1:8080");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->scheme_host_port, "http://127.0.0.1:8080");
  EXPECT_EQ(s->path, "/");
  EXPECT_FALSE(split_http_url("file:///srv/channel"));
  EXPECT_FALSE(split_http_url("https:///x"));
}

TEST(ChannelMessage, RoundTripAndRejections) {
  ChannelMessage m{"https://channels.nixos.org/nixos-24.05", std::string(40, 'a'),
                   system_clock::from_time_t(1700000000), "web1-1"};
  auto back = decode_channel_message(encode_channel_message(m));
  EXPECT_EQ(back.channel_url, m.channel_url);
  EXPECT_EQ(back.revision, m.revision);
  EXPECT_EQ(back.fetched_at, m.fetched_at);
  EXPECT_EQ(back.host, m.host);
  for (std::string bad : {"", "[]", "{\"v\":2}", R"({"v":1,"channel_url":"u","host":"h"})",
                          R"({"v":1,"channel_url":"u","host":"h","revision":"zz","fetched_at":1})",
                          R"({"v":1,"channel_url":"u","host":"h","revision":"abcdef0"})"}) {
    EXPECT_THROW(decode_channel_message(bad), Error) << bad;
  }
}

TEST(ChannelConfig, FlagsAndDefaults) {
  auto parse = [](std::vector<std::string> args) {
    CLI::App app;
    ChannelFlags flags;
    add_channel_flags(app, flags);
    parse_exporter_args(app, std::move(args));
    return flags;
  };
  {
    CLI::App app;
    ExporterOptions o;
    add_exporter_flags(app, o);
    parse_exporter_args(app, {});
    EXPECT_FALSE(o.collectors.at("channel"));
  }
  auto c = make_channel_config(parse({}));
  EXPECT_TRUE(c.check_upstream);
  EXPECT_EQ(c.check_interval, hours(1));
  EXPECT_EQ(c.nats_subject, "nixos-exporter.channel-rev");
  c = make_channel_config(parse({"--channel.check-interval=10m", "--no-channel.upstream-check",
                                 "--channel.nats.enable", "--channel.nats.url=nats://n:1"}));
  EXPECT_EQ(c.check_interval, minutes(10));
  EXPECT_FALSE(c.check_upstream);
  EXPECT_TRUE(c.nats_enable);
  EXPECT_EQ(c.nats_url, "nats://n:1");
  EXPECT_EQ(make_channel_config(
                parse({"--channel.nats.enable", "--channel.nats.url=nats://a:1, nats://b:1"}))
                .nats_url,
            "nats://a:1, nats://b:1");
  EXPECT_THROW(
      make_channel_config(parse({"--channel.nats.enable", "--channel.nats.url=nats://a:1,"})),
      UsageError);
  EXPECT_THROW(make_channel_config(parse({"--channel.check-interval=0"})), UsageError);
  EXPECT_THROW(make_channel_config(
                   parse({"--channel.nats.credentials-file=a", "--channel.nats.nkey-seed-file=b"})),
               UsageError);
}

namespace {

constexpr long fixture_mtime = 1700000000;  // 2023-11-14T22:13:20Z
constexpr long clock_now = 1761004800;      // 2025-10-21T00:00:00Z

std::string collect_channel(const fs::path& root) {
  CollectorContext ctx{HostRoot(root), std::make_shared<ManualClock>(clock_now * 1000)};
  ChannelConfig config;
  config.check_upstream = false;  // no network in unit tests: see tests/e2e/test_channel.py
  auto c = make_channel_collector(ctx, config);
  MetricSet m;
  c->collect(m);
  return render(m);
}

struct ChannelHost {
  test::TempDir tmp;
  fs::path root;
  explicit ChannelHost(std::string_view fixture) : root(tmp.path() / "root") {
    test::copy_tree(test::fixture_root(fixture), root);
    for (auto& e : fs::recursive_directory_iterator(root)) {
      if (e.is_symlink()) test::set_link_mtime(e.path(), fixture_mtime);
    }
  }
};

}  // namespace

TEST(ChannelCollector, GoldenNixosChannels) {
  ChannelHost host("nixos-channels");
  test::expect_golden("tests/exporter/golden/channel-nixos-channels.prom",
                      collect_channel(host.root));
}

TEST(ChannelCollector, GoldenWithoutChannels) {
  ChannelHost host("nixos-basic");
  test::expect_golden("tests/exporter/golden/channel-nixos-basic.prom", collect_channel(host.root));
}

// NixOS's exporter unit hides /root (ProtectHome=): the list is then unreadable, not empty. A
// directory in its place fails the read as EACCES would, also for root (which the tests run as).
TEST(ChannelCollector, UnreadableListIsReportedNotEmpty) {
  ChannelHost host("nixos-channels");
  fs::remove(host.root / "root/.nix-channels");
  fs::create_directory(host.root / "root/.nix-channels");
  auto text = collect_channel(host.root);
  EXPECT_NE(text.find("nixos_channel_list_readable 0"), std::string::npos) << text;
  EXPECT_NE(text.find("url=\"unknown\""), std::string::npos) << text;
}

namespace {

// Channel upstreams on loopback, as tests/e2e/test_channel.py serves them: <URL>/git-revision
// answers with a revision, a channel without one answers 404.
class Upstreams {
 public:
  explicit Upstreams(std::map<std::string, std::string> revisions) {
    for (const auto& [channel, revision] : revisions) {
      server_.Get("/" + channel + "/git-revision",
                  [revision](const httplib::Request&, httplib::Response& res) {
                    res.set_content(revision, "text/plain");
                  });
    }
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("cannot bind a loopback port");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~Upstreams() {
    server_.stop();
    thread_.join();
  }
  std::string url(std::string_view channel) const {
    return fmt::format("http://127.0.0.1:{}/{}", port_, channel);
  }
  int port() const { return port_; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace

// Upstream checks answered (one channel upstream moved on, one did not, one answers 404), NATS
// sharing enabled with its server down: every series the collector has. The port of the loopback
// upstream is masked in the golden; the time is the ManualClock's.
TEST(ChannelCollector, GoldenUpstreamChecked) {
  ChannelHost host("nixos-channels");
  Upstreams up({{"nixos-24.05", "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567\n"},
                {"nixpkgs-unstable", "5e2a59a5b1a82f89f2c7e598302a9cacebb72a67\n"}});
  std::ofstream(host.root / "root/.nix-channels") << up.url("nixos-24.05") << " nixos\n"
                                                  << up.url("nixpkgs-unstable") << " unstable\n"
                                                  << up.url("home-manager-24.05") << "\n";
  int nats_port;
  {
    // A loopback port that was free a moment ago: nothing listens there.
    httplib::Server probe;
    nats_port = probe.bind_to_any_port("127.0.0.1");
  }
  CollectorContext ctx{HostRoot(host.root), std::make_shared<ManualClock>(clock_now * 1000)};
  ChannelConfig config;
  config.nats_enable = true;
  config.nats_url = fmt::format("nats://127.0.0.1:{}", nats_port);
  config.host_id = "test-host";
  // Sharing delays the first round by up to a quarter period: keep it short, and the next round
  // far enough away that the golden is taken before it.
  config.check_interval = std::chrono::seconds(4);
  auto c = make_channel_collector(ctx, config);
  std::string text;
  for (int i = 0; i < 3000; ++i) {
    MetricSet m;
    c->collect(m);
    text = render(m);
    if (text.find("result=\"success\"} 2\n") != std::string::npos &&
        text.find("result=\"http_error\"} 1\n") != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  text = std::regex_replace(text, std::regex("127\\.0\\.0\\.1:" + std::to_string(up.port())),
                            "127.0.0.1:<port>");
  test::expect_golden("tests/exporter/golden/channel-nixos-channels-upstream.prom", text);
}
