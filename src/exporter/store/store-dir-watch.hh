#pragma once
// The store directory's invalid entries (store-dir-scan.hh) kept up to date at the cost of what
// changed, instead of a readdir of the whole directory (200,000 entries on a large store) and a
// graph lookup per entry after every new path.
//
// What is kept: the names in the store directory that are not valid paths (held or reclaimable;
// usually a handful). A name's membership changes only when
// - an entry is created, deleted or renamed in the directory: inotify on the directory reports
//   its name (IN_CREATE, IN_DELETE, IN_MOVED_FROM, IN_MOVED_TO); each name reported is looked at
//   again (lstat, graph);
// - the database makes a name valid: Nix writes an output into the store directory before it
//   registers it, so an entry turns from invalid to valid with no directory event. The caller's
//   graph only grows at its end between full reads (GcTracker), so the paths appended since the
//   last update are the names that became valid;
// - the database makes a valid name invalid (a row deleted): GcTracker then reads the whole graph
//   again, and so does this: a full scan.
// Each update then re-classifies every kept name as the full scan does (temporary roots, the lock
// of a tmp- directory) and measures the disk bytes of the reclaimable ones again: a partial output
// grows and a builder's lock goes without any event in the store directory itself.
//
// What the watch relies on: inotify watches the inode, not the path or the mount, so on NixOS,
// where /nix/store is a read-only bind mount of the same directory that the daemon writes through
// another mount, its writes are reported here too. It does not see writes that never pass through
// this kernel (a store on a network file system written by another machine; an overlay's lower
// layer changed underneath): a full scan every max_incremental_runs incremental ones bounds how
// long such a change goes unseen.
//
// Full scans instead, each counted with its reason (store_dir_scan_reason): the first update and
// the one after a failure; the event queue overflowed (IN_Q_OVERFLOW); the watch went away or no
// longer watches the directory at the path (IN_IGNORED, IN_DELETE_SELF, IN_MOVE_SELF, an unmount,
// another inode at the path); inotify could not be set up (ENOSYS, EMFILE, ENOSPC once
// fs.inotify.max_user_watches is reached, EPERM from a system call filter, a missing directory;
// tried again at every update, each new reason logged once);
// the graph read again in full; periodic.
//
// Thread-safety: one thread at a time (the gc collector's worker).
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/host-root.hh"
#include "exporter/store/store-db.hh"
#include "exporter/store/store-delta.hh"
#include "exporter/store/store-dir-scan.hh"

namespace nixmon::exporter {

// The label `reason` of nixos_gc_store_dir_scan_total.
namespace store_dir_scan_reason {
// Incremental: only the names directory events reported and the paths newly valid were looked at.
inline constexpr std::string_view changed = "changed";
// Full: nothing kept yet, or the last attempt failed.
inline constexpr std::string_view first = "first";
// Full: the graph of valid paths was read again (a path deleted; every change while keep-outputs
// is on, GcTracker): which names stopped being valid is unknown.
inline constexpr std::string_view graph_read = "graph_read";
// Full: the kernel dropped events (IN_Q_OVERFLOW, fs.inotify.max_queued_events).
inline constexpr std::string_view overflow = "overflow";
// Full: the watch went away or the path names another directory now.
inline constexpr std::string_view watch_lost = "watch_lost";
// Full: no inotify watch could be set up (the log says why); every scan is full.
inline constexpr std::string_view unwatched = "unwatched";
// Full: max_incremental_runs incremental scans in a row.
inline constexpr std::string_view periodic = "periodic";
}  // namespace store_dir_scan_reason

// What a directory watch reported since it was last drained.
struct DirEvents {
  std::vector<std::string> names;        // entries created, deleted or renamed (either name)
  std::optional<std::string_view> lost;  // events were lost: the store_dir_scan_reason why
};

// A watch on the direct entries of one directory. drain() never blocks.
class DirWatch {
 public:
  virtual ~DirWatch() = default;
  virtual DirEvents drain() = 0;
};

// Opens a watch on a local (already re-rooted) directory; throws SysError when it cannot.
using DirWatchOpener = std::function<std::unique_ptr<DirWatch>(const std::string& local_dir)>;

// The inotify watch (non-blocking, close-on-exec descriptor owned by the object).
std::unique_ptr<DirWatch> open_inotify_watch(const std::string& local_dir);

class StoreDirTracker {
 public:
  explicit StoreDirTracker(HostRoot root, DirWatchOpener open_watch = open_inotify_watch);

  // The invalid entries now, as scan_invalid_entries(root, graph, temp_roots) would find them
  // (reclaimable sorted by name rather than in directory order). `graph_reads` changes whenever
  // the caller read `graph` again in full (GcTracker::graph_reads()); otherwise `graph` is the
  // last update's graph with paths appended. Throws SysError when the directory cannot be read;
  // after a throw the next update scans in full.
  InvalidEntries update(const StoreGraph& graph, std::uint64_t graph_reads,
                        const TempRoots& temp_roots);
  // Forget the kept names (the next update scans in full); the run counts stay.
  void reset();

  const AnalysisRuns& runs() const { return runs_; }
  // Why no watch could be set up at the last update; empty while watching.
  const std::string& unwatched_why() const { return unwatched_why_; }

 private:
  bool is_valid(const StoreGraph& graph, std::string_view name);
  std::optional<std::string_view> open_watch_if_needed();

  HostRoot root_;
  std::string local_dir_;
  DirWatchOpener open_watch_;
  std::unique_ptr<DirWatch> watch_;
  std::optional<std::pair<dev_t, ino_t>> watched_ino_;  // device and inode watched
  bool have_names_ = false;
  std::set<std::string, std::less<>> invalid_;
  std::size_t graph_size_ = 0;
  std::uint64_t graph_reads_ = 0;
  int incremental_in_a_row_ = 0;
  std::string path_;  // scratch for graph lookups
  std::string unwatched_why_;
  AnalysisRuns runs_;
};

}  // namespace nixmon::exporter
