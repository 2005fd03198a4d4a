#pragma once
// What was added to the Nix store database since the exporter last read it, and the proof that
// nothing else changed; when that proof fails, the reason a full recompute is needed.
//
// Why new rows can be found cheaply (NixOS/nix src/libstore/schema.sql line 2 in 2.8.0, 2.28.0
// and master: `id integer primary key autoincrement not null`): an AUTOINCREMENT id is never
// handed out twice, so every row Nix registers after our read has an id above the highest one we
// saw, and `WHERE id > ?` walks only them. Nix inserts without naming the id
// (RegisterValidPath, local-store.cc 2.28.0 lines 313-314, master 353-355).
//
// What else Nix does to the two tables, and how each is caught:
// - Deletion (invalidatePath: `delete from ValidPaths where path = ?`, local-store.cc 2.28.0
//   lines 325-326 and 1018, master 367 and 1048; the schema's `on delete cascade` removes the
//   path's Refs rows): ids above the old maximum are exactly the new rows, so the table holds
//   old rows + new rows unless one went; `count(*)` against that sum finds it.
// - An already valid path registered again (registerValidPaths, 2.28.0 lines 966-980, master
//   1001-1015): its row is updated in place (UpdatePathInfo, `update ValidPaths set narSize = ?,
//   hash = ?, ultimate = ?, sigs = ?, ca = ? where path = ?`, 2.28.0 lines 315-316 and 784-795,
//   master 356-357 and 842-853; registrationTime and deriver are never updated), and its
//   references are written again with `insert or replace into Refs` (2.28.0 line 318, master
//   358). A REPLACE gives the row a new rowid above every existing one (Refs is an ordinary rowid
//   table), so a Refs row with a new rowid but an old referrer shows the re-registration.
// - Updates in place without new references (a re-registered path that has no references,
//   verifyStore's repair of a narSize: 2.28.0 line 1449, master 1520; signatures: 1584 / 1653)
//   leave no trace but data_version. When nothing was added or deleted the change is such an
//   update or a write to something we do not read (sigs, DerivationOutputs, Realisations): we
//   cannot tell which, so that is a full recompute. When it comes together with new rows it goes
//   unseen; a full recompute after max_incremental_runs incremental ones bounds how long.
//
// Thread-safety: free functions over a connection the caller owns.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/exposition.hh"
#include "common/sqlite.hh"

namespace nixmon::exporter {

// How many incremental answers in a row before a full recompute anyway: updates in place that
// come together with new rows cannot be seen (above); this bounds how long such a change is
// missed (100 × the 30 s default check interval ≈ 50 minutes of steady building).
inline constexpr int max_incremental_runs = 100;

// Why an answer was (re)computed; the label `reason` of nixos_{store,gc}_analysis_total.
namespace analysis_reason {
// Incremental: only rows with ids above the last seen were read.
inline constexpr std::string_view added = "added";
// Incremental (gc): the database did not change; roots were only added, or inputs that do not
// take anything's life away changed (the store directory, the system links).
inline constexpr std::string_view inputs_changed = "inputs_changed";
// Full: nothing was computed yet, or the last attempt failed (connection reopened).
inline constexpr std::string_view first = "first";
// Full: a valid path disappeared (garbage collection, nix-store --delete).
inline constexpr std::string_view deleted = "deleted";
// Full: an already valid path was registered again: its narSize/ultimate may have changed.
inline constexpr std::string_view reregistered = "reregistered";
// Full: the database changed but no row was added or deleted: an update in place, or a write to
// something not read; which one is unknown without reading everything.
inline constexpr std::string_view changed_in_place = "changed_in_place";
// Full: max_incremental_runs incremental answers in a row.
inline constexpr std::string_view periodic = "periodic";
// Full (gc): keep-outputs is on: a derivation's outputs become valid after the derivation, which
// adds edges to old paths; the in-memory graph only grows at its end.
inline constexpr std::string_view keep_outputs = "keep_outputs";
// Full reachability (gc): nix.conf's keep-derivations/keep-outputs changed.
inline constexpr std::string_view settings_changed = "settings_changed";
// Full reachability over the held graph (gc): a GC root or temporary root naming a valid path went
// away or now names another path; what only it kept alive is dead now, which marking forward
// cannot find. (One naming a path that is not valid kept nothing: Nix skips it.)
inline constexpr std::string_view roots_removed = "roots_removed";
// Full ownership (gc, nixos_gc_ownership_analysis_total only): keep-derivations is on and a live
// path's deriver became valid after it: an old path gained an edge, which the incremental
// ownership (root-ownership.hh, extend_root_ownership) does not follow.
inline constexpr std::string_view deriver_added = "deriver_added";
}  // namespace analysis_reason

// How many answers were computed which way: (kind "incremental" or "full", reason) -> count.
struct AnalysisRuns {
  std::map<std::pair<std::string, std::string>, std::uint64_t> counts;
  void count(bool incremental, std::string_view reason) {
    ++counts[{incremental ? "incremental" : "full", std::string(reason)}];
  }
};

// Writes `runs` as the counter `name`{kind, reason}.
void write_analysis_runs(MetricSet& out, std::string_view name, std::string_view help,
                         const AnalysisRuns& runs);

// The part of the database's state the delta is taken against.
struct StoreDbMark {
  std::int64_t max_id = 0;         // highest ValidPaths.id (0: empty)
  std::uint64_t valid_paths = 0;   // rows of ValidPaths
  std::int64_t max_ref_rowid = 0;  // highest Refs rowid (0: empty)
  // PRAGMA data_version as this read transaction sees the file: what StoreDbWatch::seen() must
  // record, so a commit landing between the watch's check and this read is not taken for an
  // unexplained change at the next check.
  std::int64_t data_version = 0;
};

// Reads the mark; call inside the read transaction that reads the rows it describes.
StoreDbMark read_store_db_mark(sqlite::Database& db);

struct NewValidPath {
  std::int64_t id = 0;
  std::string path;
  std::int64_t registration_time = 0;
  std::uint64_t nar_size = 0;  // NULL and negative read as 0, as the full read does
  bool ultimate = false;
  std::optional<std::string> deriver;
};

struct StoreDelta {
  // Set when the rows below cannot be trusted to be all that changed: recompute fully.
  std::optional<std::string_view> full_reason;
  StoreDbMark mark;                 // the state the delta brings `since` to
  std::vector<NewValidPath> paths;  // in id order
  // (referrer id, reference id) of the new paths' references; read only when asked.
  std::vector<std::pair<std::int64_t, std::int64_t>> refs;
};

// The rows added since `since`, in one read transaction. Throws sqlite::SqliteError.
StoreDelta read_store_delta(sqlite::Database& db, const StoreDbMark& since, bool with_refs);

// Whether a store path counts as a derivation the way read_store_stats' `path LIKE '%.drv'`
// counts it (SQLite's LIKE ignores ASCII case).
bool is_drv_like(std::string_view path);

}  // namespace nixmon::exporter
