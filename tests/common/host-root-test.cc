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

TEST(StorePath, NamesAndHashes) {
  EXPECT_EQ(*store_path_name("/nix/store/0123456789abcdfghijklmnpqrsvwxyz-linux-6.6/bzImage"),
            "0123456789abcdfghijklmnpqrsvwxyz-linux-6.6");
  EXPECT_FALSE(store_path_name("/usr/lib").has_value());
  EXPECT_EQ(strip_store_hash("0123456789abcdfghijklmnpqrsvwxyz-linux-6.6"), "linux-6.6");
  EXPECT_EQ(strip_store_hash("short-name"), "short-name");
}
