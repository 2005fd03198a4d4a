// The flake collector on fake roots, compared as whole text against golden files (NIXMON_ACCEPT=1
// rewrites them): the metric table of docs/nixos-exporter.md is generated from these. Nix's
// build sandbox has no nix, so `--flake.nix-binary` is a /bin/sh script that prints what Nix 2.8's
// `nix flake metadata --json` printed for a local flake (the output of flake-metadata-test.cc),
// or fails as nix does; tests/e2e/test_flake.py runs real Nix 2.8 and a real nats-server. NATS
// sharing points at a loopback port nobody listens on, so its series show a connection that is
// down. The time is a ManualClock's, so ages and check timestamps need no masking.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "exporter/collectors/collectors.hh"
#include "support/test-support.hh"

using namespace nixmon;
using namespace nixmon::exporter;
namespace fs = std::filesystem;

namespace {

constexpr long clock_now = 1700086400;  // 2023-11-15T22:13:20Z

// Trimmed from `nix flake metadata --json git+file://...` (Nix 2.8) of a flake with a git input,
// a path input and an input that follows another input's nixpkgs.
constexpr std::string_view metadata_json =
    R"({"lastModified":1700000100,"locked":{"rev":"5c21539b5c602dfc73b6eb39ff95a630554a85e5","type":"git"},)"
    R"("locks":{"nodes":{"dep":{"inputs":{"nixpkgs":"nixpkgs"},"locked":{"lastModified":1700000000,)"
    R"("narHash":"sha256-x","rev":"712df8d3f93442637d0bace952b656af2f0236ba","type":"git",)"
    R"("url":"file:///x/dep"},"original":{"type":"git","url":"file:///x/dep"}},)"
    R"("nixpkgs":{"locked":{"lastModified":1690000000,"narHash":"sha256-y","path":"/x/nixpkgs",)"
    R"("type":"path"}},"root":{"inputs":{"dep":"dep","nixpkgs":["dep","nixpkgs"]}}},)"
    R"("root":"root","version":7},"revision":"5c21539b5c602dfc73b6eb39ff95a630554a85e5",)"
    R"("url":"git+file:///x/main?rev=5c21539b5c602dfc73b6eb39ff95a630554a85e5"})";

// A loopback TCP port that was free a moment ago and that nothing listens on.
int unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("no loopback port");
  ::close(fd);
  return ntohs(a.sin_port);
}

struct FlakeHost {
  test::TempDir tmp;
  fs::path root;
  fs::path nix;
  FlakeHost(std::string_view fixture, const std::string& nix_script)
      : root(tmp.path() / "root"), nix(tmp.path() / "nix") {
    test::copy_tree(test::fixture_root(fixture), root);
    std::ofstream(nix) << "#!/bin/sh\n" << nix_script;
    fs::permissions(nix, fs::perms::owner_all);
  }
};

// Collects until `done` holds for the text (the background check has run), and returns that text.
std::string collect_until(Collector& c, const std::string& done) {
  for (int i = 0; i < 3000; ++i) {
    MetricSet m;
    c.collect(m);
    std::string text = render(m);
    if (text.find(done) != std::string::npos) return text;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("the flake check never ran");
}

std::unique_ptr<Collector> make(const FlakeHost& host, bool nats) {
  CollectorContext ctx{HostRoot(host.root), std::make_shared<ManualClock>(clock_now * 1000)};
  FlakeConfig config;
  config.url = "git+file:///x/main";
  config.nix_binary = host.nix.string();
  config.host_id = "test-host";
  if (nats) {
    config.nats_enable = true;
    config.nats_url = fmt::format("nats://127.0.0.1:{}", unused_port());
    // Sharing delays the first check by up to a quarter period: keep it short, and the next
    // check far enough away that the golden is taken before it.
    config.check_interval = std::chrono::seconds(4);
  }
  return make_flake_collector(ctx, config);
}

}  // namespace

// A successful check, the running system at another revision than the flake (behind), sharing
// enabled but its server down: every series the collector has.
TEST(FlakeCollector, GoldenChecked) {
  FlakeHost host("nixos-basic", fmt::format("printf '%s\\n' '{}'\n", metadata_json));
  auto c = make(host, /*nats=*/true);
  test::expect_golden("tests/exporter/golden/flake-nixos-basic.prom",
                      collect_until(*c, "nixos_flake_remote_checks_total{result=\"success\"} 1\n"));
}

// nix fails before any success: the remote revision is unknown, so are the inputs; a system
// without configurationRevision is "not behind" (0), as the Go nixos-exporter documents.
TEST(FlakeCollector, GoldenCheckFailed) {
  FlakeHost host("nixos-awkward",
                 "echo 'error: unable to download https://example.org/x: HTTP error 503' >&2\n"
                 "exit 1\n");
  auto c = make(host, /*nats=*/false);
  test::expect_golden("tests/exporter/golden/flake-nixos-awkward.prom",
                      collect_until(*c, "nixos_flake_remote_checks_total{result=\"failed\"} 1\n"));
}
