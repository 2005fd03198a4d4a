#pragma once
// What Nix's garbage collector sees besides the database: the entries of the store directory that
// are not valid paths, and the temporary roots of running Nix processes.
//
// `nix-store --gc` reads the store directory itself, not only ValidPaths (collectGarbage in
// src/libstore/gc.cc: NixOS/nix 2.8.0 lines 776-795, 2.28.0 lines 807-826, master 88b09c64fb
// lines 803-822; Lix 2.95.3 lix/libstore/gc.cc 855-870; Determinate v3.9.1 src/libstore/gc.cc
// 830-843):
// - every entry but ".", ".." and ".links" (the hard-link pool; no other name is skipped: an old
//   "trash" directory is deleted like any other stray entry) is visited;
// - a name that parses as a store path ("<32 base-32 chars>-<name>", also "<hash>-x.lock",
//   "<hash>-x.drv.chroot", "<hash>-x.check") is kept only when it is alive: a valid path reachable
//   from a root, or any entry whose hash part is a temporary root's (so the lock file, chroot
//   directory and partial output of a running build survive);
// - a name that does not parse is deleted outright, except (Nix >= 2.12, Lix, Determinate) a
//   "tmp-*" entry that cannot be opened as a directory or whose directory another process holds
//   an exclusive flock on (a temporary directory of addToStore; 2.28.0 lines 640-649, Lix
//   675-684, Determinate 646-656). Nix 2.8
//   deletes those too; this code follows what users run.
// Even `--print-dead` deletes the names that do not parse (2.8.0 line 793, master line 821: the
// call is not guarded by the action), which is why a comparison must run before it.
//
// Temporary roots (findTempRoots, 2.8.0 lines 172-217, 2.28.0 163-214, master 163-215; Lix
// 214-260; Determinate 162-216): one file per process in /nix/var/nix/temproots, named after its
// PID, holding store paths each ended by a NUL. Whether a file counts is decided by its lock, not
// by its name: the owning process holds an exclusive flock for its whole life, so a file whose
// lock can be taken belongs to a dead process and is ignored (Nix deletes it). Names starting with
// "." are skipped. A PID is never looked up in /proc: it may be another PID namespace's, or
// reused.
//
// The gc collector keeps the invalid entries up to date from directory events instead of calling
// scan_invalid_entries at every change (store-dir-watch.hh); nixmon-store-report scans in full.
//
// Thread-safety: free functions without shared state.
#include <cstdint>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/host-root.hh"

namespace nixmon::exporter {

inline constexpr std::string_view temp_roots_dir = "/nix/var/nix/temproots";

// Whether a store directory entry's name parses as a store path, by the rules of NixOS/nix
// src/libstore/path.cc (2.28.0 lines 5-50, master checkName and StorePath::StorePath): a 32-char
// hash in Nix's base-32 alphabet, a '-', then 1-211 characters of [0-9a-zA-Z+-._?=], not "." or
// ".." nor starting with ".-" or "..-". (Nix 2.8 does not check the '-' after the hash nor the
// dot rules; the two differ only for names no Nix creates.)
bool is_store_path_name(std::string_view name);

struct TempRoots {
  std::vector<std::string> paths;      // store paths named by live processes, sorted, distinct
  std::vector<std::string> hashes;     // their hash parts, sorted, distinct
  std::uint64_t live_files = 0;        // files whose owner holds its lock
  std::uint64_t stale_files = 0;       // files of processes that are gone (lock free): ignored
  std::uint64_t unreadable_files = 0;  // files this process may not open (they are root's, 0600)

  bool operator==(const TempRoots&) const = default;
  bool holds_hash(std::string_view hash) const;
};

// Reads the temporary roots under the root. Probes each file's lock with a shared, non-blocking
// flock that is released at once (taking nothing from a live owner, who holds it exclusively).
// A missing directory means no temporary roots. Throws Error for a live file naming something that
// is not a store path (Nix's collector stops on it too), SysError for unexpected failures.
TempRoots read_temp_roots(const HostRoot& root);

// Identifies a state of the store directory: any entry added, removed or renamed changes it.
struct StoreDirStamp {
  ino_t ino = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const StoreDirStamp&) const = default;
};
std::optional<StoreDirStamp> store_dir_stamp(const HostRoot& root);

// The invalid entries `nix-store --gc` would delete, and their size on disk.
struct InvalidEntry {
  std::string name;  // base name in the store directory
  // Bytes of disk the deletion frees: st_blocks * 512 summed over every inode below the entry
  // (lstat, links not followed) whose every hard link lies inside it, each inode once. Not NAR
  // bytes: an invalid entry has no NAR size. Absent when part of it could not be read.
  std::optional<std::uint64_t> disk_bytes;
};

struct InvalidEntries {
  std::vector<InvalidEntry> reclaimable;  // in directory order
  std::uint64_t held = 0;  // invalid entries kept: a temporary root's hash or a locked tmp- dir
};

// Whether a store directory entry's name is one the collector visits: not ".", ".." nor ".links".
bool is_candidate_name(std::string_view name);

// The two halves of scan_invalid_entries, for the incremental form (store-dir-watch.hh): the names
// of the entries that are not valid paths, in directory order (throws SysError when the directory
// cannot be read), and what Nix does with each of those that still exists now (held by a temporary
// root or a locked tmp- directory, or reclaimable with its disk bytes).
std::vector<std::string> list_invalid_names(const HostRoot& root,
                                            const std::function<bool(std::string_view)>& is_valid);
InvalidEntries classify_invalid_entries(const HostRoot& root, const std::vector<std::string>& names,
                                        const TempRoots& temp_roots);

// Reads the store directory under the root; `is_valid(name)` says whether a base name is a valid
// path (those are the database's business). Throws SysError when the directory cannot be read.
InvalidEntries scan_invalid_entries(const HostRoot& root,
                                    const std::function<bool(std::string_view)>& is_valid,
                                    const TempRoots& temp_roots);

class StoreGraph;
// The same, with the valid paths of `graph`.
InvalidEntries scan_invalid_entries(const HostRoot& root, const StoreGraph& graph,
                                    const TempRoots& temp_roots);

// Totals for the collector: count, disk bytes (absent when any entry could not be measured), and
// how many entries could not be measured.
struct InvalidSummary {
  std::uint64_t entries = 0;
  std::optional<std::uint64_t> disk_bytes;
  std::uint64_t unmeasured = 0;
  std::uint64_t held = 0;

  bool operator==(const InvalidSummary&) const = default;
};
InvalidSummary summarise(const InvalidEntries& entries);

// Disk bytes freed by deleting the tree at a local (already re-rooted) path; nullopt when part of
// it cannot be read. Exposed for tests.
std::optional<std::uint64_t> disk_bytes_freed(const std::string& local_path);

}  // namespace nixmon::exporter
