// What Nix's garbage collector sees besides the database: store path names as Nix parses them,
// temporary roots decided by their lock, the store directory's invalid entries with the rules of
// collectGarbage (NixOS/nix src/libstore/gc.cc, cited in store-dir-scan.hh), their disk bytes, and
// GC roots the exporter cannot read. tests/e2e/test_store_gc.py compares the whole with real Nix.
#include "exporter/store/store-dir-scan.hh"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "common/error.hh"
#include "exporter/store/gc-roots.hh"
#include "support/test-support.hh"

using namespace nixmon;
using namespace nixmon::exporter;
using namespace std::string_literals;
namespace fs = std::filesystem;
using nixmon::test::write_text;

namespace {

const std::string h1 = "0a9d1c3ms7lpnkfsi5d0xj6xnmh3h2ss";  // well-formed hashes
const std::string h2 = "1b9d1c3ms7lpnkfsi5d0xj6xnmh3h2ss";
const std::string h3 = "2c9d1c3ms7lpnkfsi5d0xj6xnmh3h2ss";

std::uint64_t blocks(const fs::path& p) {
  struct stat st;
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

}  // namespace

TEST(StoreDirScan, StorePathNamesAsNixParsesThem) {
  EXPECT_TRUE(is_store_path_name(h1 + "-hello-2.12"));
  EXPECT_TRUE(is_store_path_name(h1 + "-hello-2.12.lock"));        // shares hello's hash
  EXPECT_TRUE(is_store_path_name(h1 + "-hello-2.12.drv.chroot"));  // likewise
  EXPECT_TRUE(is_store_path_name(h1 + "-.x"));
  EXPECT_FALSE(is_store_path_name(h1 + "-"));                              // empty name
  EXPECT_FALSE(is_store_path_name(h1 + "_hello"));                         // no dash after hash
  EXPECT_FALSE(is_store_path_name("0a9d1c3ms7lpnkfsi5d0xj6xnmh3h2se-x"));  // 'e' is no base-32
  EXPECT_FALSE(is_store_path_name(h1 + "-a b"));
  EXPECT_FALSE(is_store_path_name(h1 + "-.."));
  EXPECT_FALSE(is_store_path_name(h1 + "-.-x"));
  EXPECT_FALSE(is_store_path_name(h1 + "-" + std::string(212, 'a')));
  EXPECT_TRUE(is_store_path_name(h1 + "-" + std::string(211, 'a')));
  EXPECT_FALSE(is_store_path_name("tmp-123-0"));
  EXPECT_FALSE(is_store_path_name(".links"));
  EXPECT_FALSE(is_store_path_name("trash"));
}

TEST(StoreDirScan, TemporaryRootsCountOnlyWhileTheirOwnerHoldsTheLock) {
  test::TempDir tmp;
  fs::path dir = tmp.path() / "nix/var/nix/temproots";
  std::string a = "/nix/store/" + h1 + "-a", b = "/nix/store/" + h2 + "-b.drv";
  write_text(dir / "100", a + "\0"s + b + "\0"s + a + "\0"s + "/nix/store/" + h3 + "-half");
  write_text(dir / "200", "/nix/store/" + h3 + "-stale\0"s);  // its process is gone: no lock
  write_text(dir / ".keep", "");
  test::HeldLock live(dir / "100");

  auto t = read_temp_roots(HostRoot(tmp.path()));
  EXPECT_EQ(t.paths, (std::vector<std::string>{a, b}));  // the half-written last record: not yet
  EXPECT_TRUE(t.holds_hash(h1));
  EXPECT_FALSE(t.holds_hash(h3));
  EXPECT_EQ(t.live_files, 1u);
  EXPECT_EQ(t.stale_files, 1u);
  // Probing took nothing from the live owner, and left the stale file alone.
  EXPECT_TRUE(fs::exists(dir / "200"));
  EXPECT_EQ(read_temp_roots(HostRoot(tmp.path())), t);

  EXPECT_EQ(read_temp_roots(HostRoot(tmp.path() / "nowhere")).paths.size(), 0u);
}

TEST(StoreDirScan, GarbageInALiveTemporaryRootsFileIsAnError) {
  test::TempDir tmp;
  fs::path f = tmp.path() / "nix/var/nix/temproots/7";
  write_text(f, "/nix/store/" + h1 + "-a/bin/x\0"s);
  test::HeldLock live(f);
  try {
    read_temp_roots(HostRoot(tmp.path()));
    FAIL() << "accepted a sub-path as a temporary root";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("temproots/7"), std::string::npos) << e.what();
  }
}

TEST(StoreDirScan, InvalidEntriesAsCollectGarbageDeletesThem) {
  test::TempDir tmp;
  fs::path store = tmp.path() / "nix/store";
  write_text(store / (h1 + "-valid/file"), "v");
  write_text(store / (h2 + "-built.lock"), "");  // a failed build's lock: its hash is no temp root
  write_text(store / (h2 + "-built.drv.chroot/nix/store/x/partial"), std::string(20000, 'p'));
  write_text(store / (h3 + "-running.lock"), "");  // a running build's: its hash is a temp root
  fs::create_directories(store / (h3 + "-running.drv.chroot"));
  write_text(store / "stray", "s");
  fs::create_directories(store / "trash/old");  // no name is special but .links
  write_text(store / ".links/abc", "linked");
  fs::create_directories(store / "tmp-1-0");  // unlocked: deleted
  fs::create_directories(store / "tmp-2-0");  // locked by a live addToStore: kept
  write_text(store / "tmp-3-0", "");          // not a directory: Nix cannot lock it, keeps it
  test::HeldLock busy(store / "tmp-2-0");

  TempRoots t;
  t.paths = {"/nix/store/" + h3 + "-running"};
  t.hashes = {h3};
  auto valid = [](std::string_view name) { return name == h1 + "-valid"; };
  auto got = scan_invalid_entries(HostRoot(tmp.path()), valid, t);

  std::map<std::string, std::optional<std::uint64_t>> by_name;
  for (const auto& e : got.reclaimable) by_name[e.name] = e.disk_bytes;
  std::set<std::string> names;
  for (const auto& [n, _] : by_name) names.insert(n);
  EXPECT_EQ(names, (std::set<std::string>{h2 + "-built.lock", h2 + "-built.drv.chroot", "stray",
                                          "trash", "tmp-1-0"}));
  EXPECT_EQ(got.held, 4u);  // running.lock, running.drv.chroot, tmp-2-0, tmp-3-0
  fs::path chroot = store / (h2 + "-built.drv.chroot");
  EXPECT_EQ(by_name[h2 + "-built.drv.chroot"],
            blocks(chroot) + blocks(chroot / "nix") + blocks(chroot / "nix/store") +
                blocks(chroot / "nix/store/x") + blocks(chroot / "nix/store/x/partial"));
  // A lower bound on purpose: block counts depend on the file system (the exact sum is above);
  // this says the 20000 bytes of `partial` are in it, not only the directories.
  EXPECT_GT(*by_name[h2 + "-built.drv.chroot"], 20000u);

  auto s = summarise(got);
  EXPECT_EQ(s.entries, 5u);
  EXPECT_EQ(s.unmeasured, 0u);
  std::uint64_t sum = 0;
  for (const auto& [_, b] : by_name) sum += *b;
  EXPECT_EQ(s.disk_bytes, sum);
}

TEST(StoreDirScan, HardLinkedFilesFreeSpaceOnlyWhenEveryLinkGoes) {
  test::TempDir tmp;
  fs::path entry = tmp.path() / "entry";
  write_text(entry / "own", std::string(10000, 'o'));
  write_text(entry / "twice-a", std::string(10000, 't'));
  fs::create_hard_link(entry / "twice-a", entry / "twice-b");  // both links inside: once
  write_text(tmp.path() / "outside", std::string(10000, 'x'));
  fs::create_hard_link(tmp.path() / "outside", entry / "shared");  // a link elsewhere stays
  auto bytes = disk_bytes_freed(entry.string());
  EXPECT_EQ(bytes, blocks(entry) + blocks(entry / "own") + blocks(entry / "twice-a"));
  EXPECT_EQ(disk_bytes_freed((tmp.path() / "gone").string()), 0u);
}

// Regression: the walk took two descriptors and a stack frame per level, so a partial output
// nested thousands of levels deep could exhaust the descriptors the whole exporter shares. Past
// 256 levels the entry is unmeasured (unknown), never a partial sum.
TEST(StoreDirScan, ADeeplyNestedEntryIsUnmeasuredNotWalkedToTheBottom) {
  test::TempDir tmp;
  fs::path entry = tmp.path() / "entry";
  fs::path deep = entry;
  for (int i = 0; i < 255; ++i) deep /= "d";
  fs::create_directories(deep);
  EXPECT_TRUE(disk_bytes_freed(entry.string()).has_value());  // 256 levels: measured
  fs::create_directories(deep / "d" / "d");
  EXPECT_FALSE(disk_bytes_freed(entry.string()).has_value());
}

TEST(StoreDirScan, UnmeasuredEntriesMakeTheBytesUnknown) {
  InvalidEntries e;
  e.reclaimable = {{"a", 4096}, {"b", std::nullopt}};
  auto s = summarise(e);
  EXPECT_EQ(s.entries, 2u);
  EXPECT_EQ(s.unmeasured, 1u);
  EXPECT_FALSE(s.disk_bytes.has_value());
}

// A result link in a home directory the exporter may not enter: Nix (root) sees the root, the
// exporter cannot, and says so instead of dropping it. Runs the finder as nobody when root.
TEST(GcRoots, UnreadableIndirectRootsAreCounted) {
  test::TempDir tmp;
  fs::path r = tmp.path() / "root";
  fs::create_directories(r / "home/alice");
  fs::create_directories(r / "home/bob");
  fs::create_symlink("/nix/store/" + h1 + "-a", r / "home/alice/result");
  fs::create_symlink("/nix/store/" + h2 + "-b", r / "home/bob/result");
  fs::create_directories(r / "nix/var/nix/gcroots/auto");
  fs::create_directories(r / "nix/var/nix/profiles");
  fs::create_symlink("/home/alice/result", r / "nix/var/nix/gcroots/auto/1");
  fs::create_symlink("/home/bob/result", r / "nix/var/nix/gcroots/auto/2");
  fs::create_symlink("/home/carol/gone", r / "nix/var/nix/gcroots/auto/3");  // dangling: not
  // As root the child drops to nobody, for whom a 0700 root-owned directory is closed; as anyone
  // else (Nix's build sandbox runs the tests as uid 1000) the owner must be shut out too.
  fs::permissions(r / "home/alice", ::geteuid() == 0 ? fs::perms::owner_all : fs::perms::none,
                  fs::perm_options::replace);
  std::string got = test::run_unprivileged(r, [&] {
    UnreadableRoots unreadable{};
    auto roots = find_gc_roots(HostRoot(r), &unreadable);
    return fmt::format("{} {} {}", roots.size(),
                       unreadable[static_cast<std::size_t>(RootSource::gcroots_auto)],
                       unreadable[0] + unreadable[1] + unreadable[3]);
  });
  EXPECT_EQ(got, "1 1 0");  // bob's root found, alice's counted, carol's gone
  fs::permissions(r / "home/alice", fs::perms::owner_all | fs::perms::others_exec,
                  fs::perm_options::replace);
}
