// The store directory's invalid entries kept up to date from inotify events and the graph's new
// paths (store-dir-watch.hh), beside a full scan (scan_invalid_entries) after every step, on the
// nixos-basic root with a store database as real Nix creates it (rows from
// tests/fixtures/store-db/nixos-basic.sql, new rows as RegisterValidPath and InvalidatePath write
// them, NixOS/nix 2.28.0 src/libstore/local-store.cc lines 314 and 326). Lost events are made with
// an injected watch: the kernel's queue limit is a system-wide setting a test must not change.
#include "exporter/store/store-dir-watch.hh"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/inotify.h>

#include <cerrno>
#include <fstream>
#include <map>
#include <set>

#include "common/error.hh"
#include "common/fd.hh"
#include "common/sqlite.hh"
#include "exporter/store/gc-analysis.hh"
#include "exporter/store/gc-tracker.hh"
#include "support/test-support.hh"

using namespace nixmon;
using namespace nixmon::exporter;
namespace fs = std::filesystem;
using nixmon::test::write_text;

namespace {

const std::string h1 = "0a9d1c3ms7lpnkfsi5d0xj6xnmh3h2ss";  // well-formed hashes
const std::string h2 = "1b9d1c3ms7lpnkfsi5d0xj6xnmh3h2ss";
const std::string h3 = "2c9d1c3ms7lpnkfsi5d0xj6xnmh3h2ss";

// Whether this kernel and its limits give an inotify watch now (a build machine may be out of
// watches: then only the tests with an injected watch say something).
bool inotify_works(const fs::path& dir) {
  Fd fd(::inotify_init1(IN_CLOEXEC));
  return fd && ::inotify_add_watch(fd.get(), dir.c_str(), IN_CREATE) >= 0;
}

// A watch the test drives: what drain() returns next.
struct FakeWatch final : DirWatch {
  struct Script {
    std::vector<DirEvents> next;
    int opened = 0;
    bool throw_next = false;
  };
  explicit FakeWatch(std::shared_ptr<Script> s) : script(std::move(s)) {}
  DirEvents drain() override {
    if (script->throw_next) {
      // The events were read from the kernel, then something failed: they are gone.
      script->throw_next = false;
      script->next.clear();
      throw std::bad_alloc();
    }
    if (script->next.empty()) return {};
    auto e = std::move(script->next.front());
    script->next.erase(script->next.begin());
    return e;
  }
  std::shared_ptr<Script> script;
};

// The gc worker's sequence (database, graph, directory) beside a fresh full scan.
struct Beside {
  test::TempDir tmp;
  fs::path root = tmp.path() / "root";
  fs::path store = root / "nix/store";
  std::optional<StoreDbWatch> watch;
  GcTracker gc;
  std::optional<StoreDirTracker> dir;

  explicit Beside(std::optional<DirWatchOpener> opener = std::nullopt) {
    test::copy_tree(test::fixture_root("nixos-basic"), root);
    test::make_empty_nix_store(root);
    sql(test::read_text(test::source_dir() / "tests/fixtures/store-db/nixos-basic.sql"));
    watch.emplace(HostRoot(root), std::chrono::milliseconds(5000));
    if (opener)
      dir.emplace(HostRoot(root), *opener);
    else
      dir.emplace(HostRoot(root));
  }
  void sql(const std::string& text) const {
    sqlite::Database db((root / "nix/var/nix/db/db.sqlite").string(),
                        sqlite::Database::Mode::read_write);
    db.busy_timeout(5000);
    db.exec(text);
  }
  void register_path(const std::string& name) const {
    sql(
        fmt::format("INSERT INTO ValidPaths (path, hash, registrationTime, narSize, ultimate) "
                    "VALUES ('/nix/store/{}', 'sha256:00', 1700090000, 100, 1);",
                    name));
  }
  void invalidate(const std::string& name) const {
    sql(fmt::format("DELETE FROM ValidPaths WHERE path = '/nix/store/{}';", name));
  }

  struct Step {
    std::string run;  // kind/reason of this scan
    std::map<std::string, std::optional<std::uint64_t>> incremental, full;
    InvalidSummary incremental_summary, full_summary;
  };

  static std::map<std::string, std::optional<std::uint64_t>> by_name(const InvalidEntries& e) {
    std::map<std::string, std::optional<std::uint64_t>> out;
    for (const auto& r : e.reclaimable) out[r.name] = r.disk_bytes;
    out["(held)"] = e.held;
    return out;
  }

  Step step() {
    Step s;
    HostRoot host(root);
    bool changed = watch->changed();
    auto inputs = read_gc_inputs(host, false);
    gc.update(watch->db(), changed, inputs);
    watch->seen(gc.data_version());
    auto before = dir->runs();
    auto got = dir->update(*gc.graph(), gc.graph_reads(), inputs.temp_roots);
    for (const auto& [key, n] : dir->runs().counts) {
      auto it = before.counts.find(key);
      if (it == before.counts.end() || it->second != n) s.run = key.first + "/" + key.second;
    }
    auto db = open_store_db(host, std::chrono::milliseconds(5000));
    auto graph = StoreGraph::read(db, false);
    auto full = scan_invalid_entries(host, graph, inputs.temp_roots);
    s.incremental = by_name(got);
    s.full = by_name(full);
    s.incremental_summary = summarise(got);
    s.full_summary = summarise(full);
    return s;
  }
};

#define EXPECT_SAME(s)                                        \
  do {                                                        \
    EXPECT_EQ((s).incremental, (s).full);                     \
    EXPECT_TRUE((s).incremental_summary == (s).full_summary); \
  } while (0)

}  // namespace

TEST(StoreDirWatch, StrayEntriesComeAndGoAndNamesTurnValidWithoutAnEvent) {
  Beside b;
  if (!inotify_works(b.store)) GTEST_SKIP() << "no inotify watch can be added here";
  auto s = b.step();
  EXPECT_EQ(s.run, "full/first");
  EXPECT_SAME(s);

  // A failed build's lock and partial output; a stray file; an addToStore temporary directory.
  write_text(b.store / (h1 + "-x.lock"), "");
  write_text(b.store / (h1 + "-x/bin/x"), std::string(10000, 'x'));
  write_text(b.store / "stray", "s");
  fs::create_directories(b.store / "tmp-1-0");
  s = b.step();
  EXPECT_EQ(s.run, "incremental/changed");
  EXPECT_SAME(s);
  EXPECT_EQ(s.incremental.count(h1 + "-x"), 1u);
  EXPECT_EQ(s.incremental.count("tmp-1-0"), 1u);

  // Nix registers the output it wrote before: valid now, and no event in the directory says so.
  b.register_path(h1 + "-x");
  s = b.step();
  EXPECT_EQ(s.run, "incremental/changed");
  EXPECT_SAME(s);
  EXPECT_EQ(s.incremental.count(h1 + "-x"), 0u);

  // Renamed (both names reported), removed, and a partial output growing inside (no event in
  // the store directory itself: measured again anyway).
  fs::rename(b.store / "stray", b.store / "stray2");
  fs::remove(b.store / (h1 + "-x.lock"));
  write_text(b.store / (h2 + "-y/partial"), "p");
  s = b.step();
  EXPECT_EQ(s.run, "incremental/changed");
  EXPECT_SAME(s);
  write_text(b.store / (h2 + "-y/more/partial"), std::string(50000, 'm'));
  fs::remove_all(b.store / "tmp-1-0");
  s = b.step();
  EXPECT_EQ(s.run, "incremental/changed");
  EXPECT_SAME(s);
  EXPECT_EQ(s.incremental.count("tmp-1-0"), 0u);

  // A running build holds its hash (temporary roots re-classify the kept names), and locks a
  // tmp- directory.
  fs::create_directories(b.store / "tmp-2-0");
  fs::path temproots = b.root / "nix/var/nix/temproots/42";
  write_text(temproots, "/nix/store/" + h2 + "-y" + std::string(1, '\0'));
  {
    test::HeldLock running(temproots);
    test::HeldLock busy(b.store / "tmp-2-0");
    s = b.step();
    EXPECT_EQ(s.run, "incremental/changed");
    EXPECT_SAME(s);
    EXPECT_EQ(s.incremental["(held)"], 2u);
  }
  s = b.step();
  EXPECT_EQ(s.run, "incremental/changed");
  EXPECT_SAME(s);
  EXPECT_EQ(s.incremental["(held)"], 0u);

  // A path deleted from the database (its directory stays: a stray now): the graph is read
  // again, and so is the directory.
  fs::create_directories(b.store / (h3 + "-z"));
  b.register_path(h3 + "-z");
  s = b.step();
  EXPECT_SAME(s);
  b.invalidate(h3 + "-z");
  s = b.step();
  EXPECT_EQ(s.run, "full/graph_read");
  EXPECT_SAME(s);
  EXPECT_EQ(s.incremental.count(h3 + "-z"), 1u);

  auto runs = b.dir->runs().counts;
  EXPECT_GE((runs[{"incremental", "changed"}]), 7u);
  EXPECT_EQ((runs[{"full", "first"}]), 1u);
}

TEST(StoreDirWatch, TheDirectoryMovedAwayLosesTheWatch) {
  Beside b;
  if (!inotify_works(b.store)) GTEST_SKIP() << "no inotify watch can be added here";
  EXPECT_EQ(b.step().run, "full/first");
  // The watched inode leaves the path (IN_MOVE_SELF) and another directory takes its place.
  fs::rename(b.store, b.root / "nix/store.old");
  fs::create_directories(b.store);
  write_text(b.store / "stray", "s");
  auto s = b.step();
  EXPECT_EQ(s.run, "full/watch_lost");
  EXPECT_SAME(s);
  // The new directory is watched from now on.
  write_text(b.store / "stray2", "s");
  s = b.step();
  EXPECT_EQ(s.run, "incremental/changed");
  EXPECT_SAME(s);
  EXPECT_EQ(s.incremental.count("stray2"), 1u);
}

TEST(StoreDirWatch, LostEventsTakeTheFullScan) {
  auto script = std::make_shared<FakeWatch::Script>();
  Beside b([script](const std::string&) -> std::unique_ptr<DirWatch> {
    ++script->opened;
    return std::make_unique<FakeWatch>(script);
  });
  EXPECT_EQ(b.step().run, "full/first");

  // The queue overflowed: the names of these entries never arrive.
  write_text(b.store / (h1 + "-x.lock"), "");
  write_text(b.store / "stray", "s");
  script->next.push_back({{}, store_dir_scan_reason::overflow});
  auto s = b.step();
  EXPECT_EQ(s.run, "full/overflow");
  EXPECT_SAME(s);
  EXPECT_EQ(s.incremental.count("stray"), 1u);

  // Without the fallback the name no event reported would stay unseen: reported, it is seen.
  write_text(b.store / "stray2", "s");
  s = b.step();
  EXPECT_EQ(s.run, "incremental/changed");
  EXPECT_EQ(s.incremental.count("stray2"), 0u);  // the fake reported nothing: proves the source
  script->next.push_back({{"stray2"}, std::nullopt});
  s = b.step();
  EXPECT_SAME(s);

  // The watch went away (IN_IGNORED and the like): opened again, and a full scan.
  write_text(b.store / "stray3", "s");
  script->next.push_back({{}, store_dir_scan_reason::watch_lost});
  s = b.step();
  EXPECT_EQ(s.run, "full/watch_lost");
  EXPECT_SAME(s);
  EXPECT_EQ(script->opened, 2);
}

TEST(StoreDirWatch, WithoutInotifyEveryScanIsFullAndStillRight) {
  int attempts = 0;
  bool available = false;
  auto script = std::make_shared<FakeWatch::Script>();
  Beside b([&](const std::string& dir) -> std::unique_ptr<DirWatch> {
    ++attempts;
    if (!available) throw SysError(ENOSPC, "watching '{}' with inotify", dir);
    return std::make_unique<FakeWatch>(script);
  });
  EXPECT_EQ(b.step().run, "full/first");
  EXPECT_NE(b.dir->unwatched_why().find("No space left"), std::string::npos)
      << b.dir->unwatched_why();
  write_text(b.store / "stray", "s");
  auto s = b.step();
  EXPECT_EQ(s.run, "full/unwatched");
  EXPECT_SAME(s);
  b.register_path(h1 + "-x");
  fs::create_directories(b.store / (h1 + "-x"));
  s = b.step();
  EXPECT_EQ(s.run, "full/unwatched");
  EXPECT_SAME(s);
  EXPECT_EQ(attempts, 3);  // tried again each time: a descriptor or watch may be free again

  // Once a watch can be added: one more full scan (events before it are unknown), then events.
  available = true;
  s = b.step();
  EXPECT_EQ(s.run, "full/unwatched");
  EXPECT_TRUE(b.dir->unwatched_why().empty());
  s = b.step();
  EXPECT_EQ(s.run, "incremental/changed");
  EXPECT_SAME(s);
}

TEST(StoreDirWatch, EveryHundredthScanIsFull) {
  auto script = std::make_shared<FakeWatch::Script>();
  Beside b([script](const std::string&) -> std::unique_ptr<DirWatch> {
    return std::make_unique<FakeWatch>(script);
  });
  EXPECT_EQ(b.step().run, "full/first");
  HostRoot host(b.root);
  auto inputs = read_gc_inputs(host, false);
  for (int i = 0; i < max_incremental_runs; ++i)
    b.dir->update(*b.gc.graph(), b.gc.graph_reads(), inputs.temp_roots);
  // A write the watch never reported (a network file system written elsewhere) is seen now.
  write_text(b.store / "unreported", "u");
  auto s = b.step();
  EXPECT_EQ(s.run, "full/periodic");
  EXPECT_SAME(s);
  EXPECT_EQ(s.incremental.count("unreported"), 1u);
}

TEST(StoreDirWatch, AFailedScanStartsAgainInFull) {
  auto script = std::make_shared<FakeWatch::Script>();
  Beside b([script](const std::string&) -> std::unique_ptr<DirWatch> {
    return std::make_unique<FakeWatch>(script);
  });
  EXPECT_EQ(b.step().run, "full/first");
  fs::rename(b.store, b.root / "nix/store.away");
  EXPECT_THROW(b.step(), SysError);
  fs::rename(b.root / "nix/store.away", b.store);
  write_text(b.store / "stray", "s");
  auto s = b.step();
  EXPECT_EQ(s.run, "full/first");
  EXPECT_SAME(s);
}

TEST(StoreDirWatch, AnotherDirectoryAtThePathIsNotTheOneWatched) {
  // A watch that reports nothing, as one on the old inode does once a mount or another directory
  // takes the path without the old one being moved (the kernel then says nothing to it).
  auto script = std::make_shared<FakeWatch::Script>();
  Beside b([script](const std::string&) -> std::unique_ptr<DirWatch> {
    ++script->opened;
    return std::make_unique<FakeWatch>(script);
  });
  EXPECT_EQ(b.step().run, "full/first");
  fs::rename(b.store, b.root / "nix/store.old");
  fs::create_directories(b.store);
  write_text(b.store / "stray", "s");
  auto s = b.step();
  EXPECT_EQ(s.run, "full/watch_lost");
  EXPECT_SAME(s);
  EXPECT_EQ(script->opened, 2);
}

TEST(StoreDirWatch, ADirectoryTakingThePathWhileTheWatchIsAddedIsNotTheOneWatched) {
  // The path is taken by another directory (a mount, a rename) just after the watch was added to
  // the old one: the watch reports nothing about the new directory, so it must not be taken for
  // the one watched.
  auto script = std::make_shared<FakeWatch::Script>();
  fs::path store_path;
  Beside b([&](const std::string&) -> std::unique_ptr<DirWatch> {
    if (++script->opened == 1) {
      fs::rename(store_path, store_path.parent_path() / "store.old");
      fs::create_directories(store_path);
    }
    return std::make_unique<FakeWatch>(script);
  });
  store_path = b.store;
  EXPECT_EQ(b.step().run, "full/first");
  write_text(b.store / "stray", "s");
  auto s = b.step();
  EXPECT_EQ(s.run, "full/watch_lost");
  EXPECT_SAME(s);
  EXPECT_EQ(s.incremental.count("stray"), 1u);
  EXPECT_EQ(script->opened, 2);
  // Watched from then on.
  script->next.push_back({{"stray2"}, std::nullopt});
  write_text(b.store / "stray2", "s");
  s = b.step();
  EXPECT_EQ(s.run, "incremental/changed");
  EXPECT_SAME(s);
}

TEST(StoreDirWatch, EventsLostToAFailedDrainTakeTheFullScan) {
  // The collector resets the tracker after any failure; the tracker must not rely on that.
  auto script = std::make_shared<FakeWatch::Script>();
  Beside b([script](const std::string&) -> std::unique_ptr<DirWatch> {
    return std::make_unique<FakeWatch>(script);
  });
  EXPECT_EQ(b.step().run, "full/first");
  write_text(b.store / "stray", "s");
  script->next.push_back({{"stray"}, std::nullopt});
  script->throw_next = true;
  EXPECT_THROW(b.step(), std::bad_alloc);
  auto s = b.step();
  EXPECT_EQ(s.run, "full/first");
  EXPECT_SAME(s);
  EXPECT_EQ(s.incremental.count("stray"), 1u);
}

namespace {

// fs.inotify.max_queued_events: how many events the kernel queues before IN_Q_OVERFLOW.
std::optional<long> max_queued_events() {
  std::ifstream in("/proc/sys/fs/inotify/max_queued_events");
  long n = 0;
  if (in >> n && n > 0) return n;
  return std::nullopt;
}

// One event for each create and each unlink of `p`; consecutive identical events are merged by
// the kernel, these alternate and are not.
void churn(const fs::path& p, long events) {
  for (long i = 0; i < events; i += 2) {
    Fd fd(::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd) << p;
    fd.reset();
    ASSERT_EQ(::unlink(p.c_str()), 0) << p;
  }
}

}  // namespace

TEST(StoreDirWatch, MoreEventsThanOneReadHoldsAreAllSeen) {
  Beside b;
  if (!inotify_works(b.store)) GTEST_SKIP() << "no inotify watch can be added here";
  auto limit = max_queued_events();
  constexpr int files = 3000;  // 32 bytes an event: several reads of the 64 KiB buffer
  if (!limit || *limit <= files) GTEST_SKIP() << "the kernel queues too few events here";
  EXPECT_EQ(b.step().run, "full/first");
  for (int i = 0; i < files; ++i) write_text(b.store / fmt::format("stray-{:04}", i), "");
  auto s = b.step();
  EXPECT_EQ(s.run, "incremental/changed");
  EXPECT_SAME(s);
  EXPECT_EQ(s.incremental.size(), files + 1u);  // and "(held)"
}

TEST(StoreDirWatch, TheKernelsQueueOverflowingTakesTheFullScan) {
  Beside b;
  if (!inotify_works(b.store)) GTEST_SKIP() << "no inotify watch can be added here";
  auto limit = max_queued_events();
  // Not changed by the test (a system-wide setting): overflowed when it is small enough.
  if (!limit || *limit > 200000)
    GTEST_SKIP() << "fs.inotify.max_queued_events is not readable "
                    "or too large to overflow quickly";
  EXPECT_EQ(b.step().run, "full/first");
  churn(b.store / "churn", *limit + 2);
  // Its event is dropped: only the full scan finds it.
  write_text(b.store / "after-the-overflow", "a");
  auto s = b.step();
  EXPECT_EQ(s.run, "full/overflow");
  EXPECT_SAME(s);
  EXPECT_EQ(s.incremental.count("after-the-overflow"), 1u);
  // The watch outlives the overflow: events again.
  write_text(b.store / "later", "l");
  s = b.step();
  EXPECT_EQ(s.run, "incremental/changed");
  EXPECT_SAME(s);
  EXPECT_EQ(s.incremental.count("later"), 1u);
}

TEST(StoreDirWatch, TheInotifyWatchNamesEntriesAndReportsItsDirectoryGoing) {
  test::TempDir tmp;
  fs::path dir = tmp.path() / "store";
  fs::create_directories(dir);
  if (!inotify_works(dir)) GTEST_SKIP() << "no inotify watch can be added here";
  // Not a directory, or nothing at the path: an error, not a watch on something else.
  write_text(tmp.path() / "file", "f");
  EXPECT_THROW(open_inotify_watch((tmp.path() / "file").string()), SysError);
  EXPECT_THROW(open_inotify_watch((tmp.path() / "missing").string()), SysError);

  auto w = open_inotify_watch(dir.string());
  auto e = w->drain();  // nothing happened: returns at once
  EXPECT_TRUE(e.names.empty());
  EXPECT_FALSE(e.lost);

  write_text(dir / "a", "a");
  fs::rename(dir / "a", dir / "b");
  fs::create_directories(dir / "d");
  fs::remove(dir / "b");
  fs::remove(dir / "d");
  e = w->drain();
  EXPECT_FALSE(e.lost);
  std::set<std::string> names(e.names.begin(), e.names.end());
  EXPECT_EQ(names, (std::set<std::string>{"a", "b", "d"}));
  EXPECT_TRUE(w->drain().names.empty());  // drained

  // The directory itself goes (IN_DELETE_SELF, IN_IGNORED): no event will come any more. The
  // inode number may be reused by the next directory at the path, so only the watch can say so.
  fs::remove(dir);
  EXPECT_EQ(w->drain().lost, store_dir_scan_reason::watch_lost);
  EXPECT_EQ(w->drain().lost, store_dir_scan_reason::watch_lost);
}

TEST(StoreDirWatch, AnEntryRegisteredAndInvalidatedBetweenTwoScansStaysInvalid) {
  Beside b;
  if (!inotify_works(b.store)) GTEST_SKIP() << "no inotify watch can be added here";
  EXPECT_EQ(b.step().run, "full/first");
  fs::create_directories(b.store / (h1 + "-x"));
  auto s = b.step();
  EXPECT_EQ(s.run, "incremental/changed");
  EXPECT_EQ(s.incremental.count(h1 + "-x"), 1u);

  // Between two scans: the entry is registered and its row deleted again, and another path is
  // registered, so the table holds as many rows as the new ones add: the graph only grows (by
  // the other path), nothing in the directory says anything of the first.
  b.register_path(h1 + "-x");
  fs::create_directories(b.store / (h2 + "-y"));
  b.register_path(h2 + "-y");
  b.invalidate(h1 + "-x");
  s = b.step();
  EXPECT_EQ(s.run, "incremental/changed");
  EXPECT_SAME(s);
  EXPECT_EQ(s.incremental.count(h1 + "-x"), 1u);
  EXPECT_EQ(s.incremental.count(h2 + "-y"), 0u);

  // Registered for good (valid without an event), then its row alone deleted: the graph is read
  // again, and with it the directory.
  b.register_path(h1 + "-x");
  s = b.step();
  EXPECT_EQ(s.run, "incremental/changed");
  EXPECT_SAME(s);
  EXPECT_EQ(s.incremental.count(h1 + "-x"), 0u);
  b.invalidate(h1 + "-x");
  s = b.step();
  EXPECT_EQ(s.run, "full/graph_read");
  EXPECT_SAME(s);
  EXPECT_EQ(s.incremental.count(h1 + "-x"), 1u);
}
