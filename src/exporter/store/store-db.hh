#pragma once
// The Nix store database (/nix/var/nix/db/db.sqlite) read from outside Nix, through a HostRoot:
// opened read-only beside a running nix-daemon, its schema checked before anything is believed, and
// the two views the collectors need: whole-store aggregates (StoreStats) and the reference graph
// (StoreGraph) with Nix's garbage-collector reachability over it.
//
// Only the columns every Nix since schema 10 has are read (ValidPaths: id, path, registrationTime,
// deriver, narSize, ultimate; Refs: referrer, reference; DerivationOutputs: drv, path); extra
// tables and columns are tolerated, missing ones are an error.
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/host-root.hh"
#include "common/sqlite.hh"
#include "common/store-path.hh"
#include "exporter/store/store-delta.hh"

namespace nixmon::exporter {

inline constexpr std::string_view nix_store_dir = default_store_dir;
inline constexpr std::string_view store_db_file = "/nix/var/nix/db/db.sqlite";
inline constexpr std::string_view store_schema_file = "/nix/var/nix/db/schema";
// The schema version this code was written and tested against (Nix 2.x writes 10).
inline constexpr std::int64_t known_store_schema = 10;

// Opens the store database read-only with a short busy timeout, after checking the schema version
// file, and checks the columns it will read. Never uses immutable=1: nix-daemon may be writing.
// Throws Error (no database, unknown schema, missing column) or sqlite::SqliteError (cannot open,
// e.g. SQLITE_READONLY_DIRECTORY when the -wal/-shm files are absent and the directory is not
// writable).
sqlite::Database open_store_db(const HostRoot& root, std::chrono::milliseconds busy_timeout);

// The cheap part of open_store_db: the schema version file exists and names a known version.
// Throws Error otherwise. Lets a scrape that comes before the first background answer tell "no
// store here" (failure) from "still computing" (not ready) at once.
void check_store_schema(const HostRoot& root);

// A persistent read-only connection that tells whether the database changed: PRAGMA data_version
// moves when another connection (nix-daemon) commits; a replaced file (new inode) or a failure
// means reopening. Used on one worker thread.
class StoreDbWatch {
 public:
  StoreDbWatch(HostRoot root, std::chrono::milliseconds busy_timeout)
      : root_(std::move(root)), busy_timeout_(busy_timeout) {}

  // Opens the database if needed and says whether it changed since the last seen(). Throws as
  // open_store_db does.
  bool changed();
  // The version changed() last read is now reflected in an answer.
  void seen() { seen_ = version_; }
  // The answer reflects the read that saw this data_version (StoreDbMark::data_version).
  void seen(std::int64_t version) { seen_ = version; }
  // After a failure: reopen next time and report a change.
  void reset();
  sqlite::Database& db() { return *db_; }

 private:
  HostRoot root_;
  std::chrono::milliseconds busy_timeout_;
  std::optional<sqlite::Database> db_;
  ino_t ino_ = 0;
  dev_t dev_ = 0;
  std::optional<std::int64_t> version_;
  std::optional<std::int64_t> seen_;
};

// Whole-store aggregates, read in one short read transaction.
struct StoreStats {
  std::uint64_t valid_paths = 0;
  std::uint64_t nar_bytes = 0;      // SUM(narSize): not disk usage (hard links, compression)
  std::uint64_t derivations = 0;    // valid paths ending in .drv
  std::uint64_t built_locally = 0;  // ValidPaths.ultimate set: built here, not substituted/copied
  std::vector<std::int64_t> registration_times;  // sorted ascending, unix seconds

  // Paths registered at or after `since` (unix seconds): store churn over a window.
  std::uint64_t registered_since(std::int64_t since) const;
};

// `mark`, when given, receives the state the aggregates describe (read in the same transaction).
StoreStats read_store_stats(sqlite::Database& db, StoreDbMark* mark = nullptr);

// Adds the new rows of a delta (that has no full_reason) to the aggregates.
void add_to_store_stats(StoreStats& stats, const StoreDelta& delta);

// What keeps a path alive besides references, as nix.conf says (Nix's defaults below).
struct GcSettings {
  bool keep_derivations = true;
  bool keep_outputs = false;
};

// Reads keep-derivations / keep-outputs (and the old gc-keep-* names) from /etc/nix/nix.conf under
// the root; Nix's defaults when the file or the setting is absent. `include` lines are not
// followed.
GcSettings read_gc_settings(const HostRoot& root);

// The valid paths and the edges the garbage collector follows, in memory: compact arrays indexed
// by a dense index (ValidPaths in id order), the paths' text in large chunks that never move.
// New paths (ids above every id read) can be appended; nothing is ever removed.
//
// Thread-safety: immutable after read()/append(); share it freely between them.
class StoreGraph {
 public:
  using Index = std::uint32_t;

  // Reads ValidPaths and Refs (and DerivationOutputs when `with_outputs`, for keep-outputs) in one
  // read transaction. `mark`, when given, receives the state read. Throws sqlite::SqliteError.
  static StoreGraph read(sqlite::Database& db, bool with_outputs, StoreDbMark* mark = nullptr);

  // Appends the new paths of `delta` (no full_reason, read with_refs; the graph read without
  // outputs: a derivation's outputs become valid after it, which appending cannot express). Their
  // references to paths not valid are skipped as read() skips them. Returns the old paths whose
  // deriver is one of the new paths (it became valid after them), for keep-derivations. `db`
  // confirms those derivers (the index keeps only 64 bits of each missing deriver's name).
  std::vector<Index> append(sqlite::Database& db, const StoreDelta& delta);

  std::size_t size() const { return nar_size_.size(); }
  std::string_view path(Index i) const {
    auto loc = path_loc_[i];
    return std::string_view(chunks_[loc >> 32]).substr(loc & 0xffffffffu, path_len_[i]);
  }
  std::uint64_t nar_size(Index i) const { return nar_size_[i]; }
  std::span<const Index> references(Index i) const {
    return {refs_.data() + ref_offset_[i], refs_.data() + ref_offset_[i + 1]};
  }
  std::span<const Index> outputs(Index i) const;  // empty unless read with_outputs
  bool has_outputs() const { return !out_offset_.empty(); }
  std::optional<Index> deriver(Index i) const {
    return deriver_[i] == none ? std::nullopt : std::optional<Index>(deriver_[i]);
  }

  // The valid path a host path belongs to: "/nix/store/<hash>-<name>[/sub/path]"; nullopt when it
  // is outside the store or not valid.
  std::optional<Index> find(std::string_view store_path) const;

  std::uint64_t total_nar_bytes() const { return total_nar_bytes_; }
  // Heap bytes held, for the benchmark's memory figure.
  std::size_t memory_bytes() const;

 private:
  static constexpr Index none = ~Index(0);
  // Bytes per text chunk after the first (which read() sizes to fit): a chunk is never grown, so
  // the views by_hash_ holds into it stay valid.
  static constexpr std::size_t chunk_bytes = 1 << 20;
  // `may_move`: the last chunk may grow (reallocate): only while by_hash_ holds no view into it.
  void add_path(std::string_view path, bool may_move);
  std::optional<Index> index_of_id(std::int64_t id) const;
  void expect_deriver(Index i, std::string_view drv);

  std::deque<std::string> chunks_;
  std::vector<std::uint64_t> path_loc_;  // chunk << 32 | offset
  std::vector<std::uint16_t> path_len_;  // store paths are at most 255 bytes (11 + 32 + 1 + 211)
  std::vector<std::int64_t> ids_;        // ValidPaths.id, ascending
  std::vector<std::uint64_t> nar_size_;
  std::uint64_t total_nar_bytes_ = 0;
  std::vector<Index> deriver_;
  // Paths whose deriver was not valid when they were read, by a 64-bit hash of the deriver's path,
  // sorted; `recent` holds those appended since, unsorted and small.
  std::vector<std::pair<std::uint64_t, Index>> missing_derivers_;
  std::vector<std::pair<std::uint64_t, Index>> missing_derivers_recent_;
  std::vector<std::uint32_t> ref_offset_;
  std::vector<Index> refs_;
  std::vector<std::uint32_t> out_offset_;
  std::vector<Index> outs_;
  std::unordered_map<std::string_view, Index> by_hash_;  // views into chunks_
};

struct Closure {
  std::uint64_t paths = 0;
  std::uint64_t nar_bytes = 0;
};

// Marks every path reachable from `roots` as Nix's garbage collector does: over references, plus
// a live path's deriver (keep-derivations) and a live derivation's outputs (keep-outputs).
// Returns one flag per path: 1 live, 0 dead.
std::vector<std::uint8_t> mark_live(const StoreGraph& graph,
                                    std::span<const StoreGraph::Index> roots, GcSettings settings);

// mark_live continued: `live` (one flag per path, extended with 0 to the graph's size) must be
// closed under those edges already; marks what `starts` reach that is not yet live. Returns the
// number of paths and NAR bytes newly marked.
Closure extend_live(const StoreGraph& graph, std::span<const StoreGraph::Index> starts,
                    GcSettings settings, std::vector<std::uint8_t>& live);

// The closure over references only, as `nix path-info -S` sizes it.
Closure closure_of(const StoreGraph& graph, StoreGraph::Index start);

// The store paths in the closure of `store_path` over references only (as `nix-store -qR` lists
// it, the path itself included), read from the database without the whole graph: one recursive
// query that walks Refs from the path through the index of Refs' primary key (referrer, reference).
// Refs rows naming no valid path are not followed, as StoreGraph::read skips them. nullopt when
// `store_path` is not a valid path. Throws sqlite::SqliteError.
std::optional<std::vector<std::string>> read_closure_paths(sqlite::Database& db,
                                                           std::string_view store_path);

}  // namespace nixmon::exporter
