#include "common/host-root.hh"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/error.hh"
#include "support/test-support.hh"

using namespace nixmon;
namespace fs = std::filesystem;

namespace {
struct Tree {
  test::TempDir tmp;
  HostRoot root{tmp.path()};
  void file(const std::string& p, const std::string& text) {
    auto full = root.local(p);
    fs::create_directories(full.parent_path());
    std::ofstream(full) << text;
  }
  void link(const std::string& p, const std::string& target) {
    auto full = root.local(p);
    fs::create_directories(full.parent_path());
    fs::create_symlink(target, full);
  }
};
}  // namespace

TEST(HostRoot, AbsoluteLinksAreReRootedNotFollowedOut) {
  Tree t;
  t.file("/nix/store/aaa-sys/version", "24.05");
  t.link("/run/current-system", "/nix/store/aaa-sys");
  EXPECT_EQ(t.root.resolve("/run/current-system"), "/nix/store/aaa-sys");
  EXPECT_EQ(*t.root.read_file("/run/current-system/version"), "24.05");
  // The host's own /etc/hostname is not reachable through a link that points at /etc.
  t.link("/escape", "/etc/hostname");
  EXPECT_FALSE(t.root.read_file("/escape").has_value());
}

TEST(HostRoot, RelativeLinksAndDotDotStayInside) {
  Tree t;
  t.file("/nix/var/nix/profiles/target", "x");
  t.link("/nix/var/nix/profiles/system", "system-2-link");
  t.link("/nix/var/nix/profiles/system-2-link", "/nix/store/bbb-sys");
  EXPECT_EQ(t.root.resolve("/nix/var/nix/profiles/system"), "/nix/store/bbb-sys");
  t.link("/up", "../../../../..");
  EXPECT_EQ(t.root.resolve("/up/nix"), "/nix");
}

TEST(HostRoot, MissingComponentsAreKeptLexically) {
  Tree t;
  t.link("/run/current-system", "/nix/store/gone-sys");
  EXPECT_EQ(t.root.resolve("/run/current-system/kernel"), "/nix/store/gone-sys/kernel");
  EXPECT_FALSE(t.root.read_file("/run/current-system/kernel").has_value());
  EXPECT_FALSE(t.root.lstat("/nowhere").has_value());
}

TEST(HostRoot, LoopsAreAnError) {
  Tree t;
  t.link("/a", "/b");
  t.link("/b", "/a");
  EXPECT_THROW(t.root.resolve("/a/x"), SysError);
}

TEST(HostRoot, ReadFileEnforcesLimit) {
  Tree t;
  t.file("/big", std::string(100, 'x'));
  EXPECT_THROW(t.root.read_file("/big", 10), Error);
  EXPECT_EQ(t.root.read_file("/big", 100)->size(), 100u);
}

TEST(HostRoot, ListDirIsSortedAndAbsentIsNullopt) {
  Tree t;
  t.file("/d/b", "");
  t.file("/d/a", "");
  EXPECT_EQ(*t.root.list_dir("/d"), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(t.root.list_dir("/none").has_value());
}

// The file system is the env's: a test pins what statvfs says and makes the errors a fake tree
// cannot (EIO, EMFILE), and HostRoot reports them with the errno the call set.
TEST(HostRoot, StatvfsGoesThroughTheHostFs) {
  test::TempDir tmp;
  fs::create_directories(tmp.path() / "nix/store");
  auto scripted = std::make_shared<test::ScriptedFs>();
  struct statvfs figures {};
  figures.f_frsize = 4096;
  figures.f_blocks = 1000;
  scripted->set_statvfs(figures);
  HostRoot root(tmp.path(), scripted);
  auto got = root.statvfs("/nix/store");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->f_blocks, 1000u);
  EXPECT_EQ(got->f_frsize, 4096u);
  EXPECT_FALSE(root.statvfs("/boot").has_value());  // absent, not an error
  // The real one answers too (on the real filesystem under the temporary directory).
  EXPECT_TRUE(HostRoot(tmp.path()).statvfs("/nix/store").has_value());
}

TEST(HostRoot, ReportsTheErrnoOfTheFailingCall) {
  Tree t;
  t.file("/etc/os-release", "ID=nixos\n");
  t.file("/etc/machine-id", "x\n");
  auto scripted = std::make_shared<test::ScriptedFs>();
  scripted->fail("/etc/os-release", EIO);
  scripted->fail("/d", EMFILE);
  HostRoot root(t.tmp.path(), scripted);
  EXPECT_EQ(*root.read_file("/etc/machine-id"), "x\n");
  try {
    root.read_file("/etc/os-release");
    FAIL() << "EIO was not reported";
  } catch (const SysError& e) {
    EXPECT_EQ(e.error_number(), EIO);
    EXPECT_NE(std::string(e.what()).find("os-release': Input/output error"), std::string::npos)
        << e.what();
  }
  try {
    root.list_dir("/d");
    FAIL() << "EMFILE was not reported";
  } catch (const SysError& e) {
    EXPECT_EQ(e.error_number(), EMFILE);
  }
}

// A link that is removed between resolve()'s lstat and its readlink (a process exiting under
// /proc, a profile switch) is a missing component, not a crash.
TEST(HostRoot, LinkVanishingDuringResolveIsMissing) {
  struct Vanishing : HostFs {
    int read_link(const fs::path&, std::string&) const override { return ENOENT; }
  };
  Tree t;
  t.link("/run/current-system", "/nix/store/x-system");
  HostRoot root(t.tmp.path(), std::make_shared<Vanishing>());
  EXPECT_EQ(root.resolve("/run/current-system/sw"), "/run/current-system/sw");
  EXPECT_FALSE(root.read_file("/run/current-system/sw").has_value());
}
