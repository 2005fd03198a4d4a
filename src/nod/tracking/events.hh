#pragma once
// What the activity tracker hands to the record writer: completed activities ready to be rows,
// and corrections. Plain values that own their strings, so they can cross threads in the queue.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "common/clock.hh"

namespace nixmon::nod {

// When a record arrived. Nix sends no timestamps and writes synchronously, so arrival is event
// time: the wall clock dates the row, the monotonic clock measures durations (immune to clock
// steps while a build runs).
struct Stamp {
  int64_t wall_ms = 0;
  int64_t mono_ns = 0;
  static Stamp now(const Clock& clock = system_clock());
};

// How an activity ended. `cancelled`: Nix stopped it because something else failed (no
// --keep-going). `interrupted`: the user stopped Nix (Ctrl-C, "interrupted by the user") or its
// stream ended without a stop. `unknown`: the stream does not tell (docs/nod-schema.md says
// when); never stored as a success.
enum class Outcome { success, failed, cancelled, interrupted, unknown };
std::string_view outcome_name(Outcome o);

// Why a build failed, as far as Nix's own messages and results say.
enum class FailureKind {
  builder,        // the builder exited non-zero (exit_code) or was killed
  dependency,     // an input failed; never started
  rejected,       // never started: platform mismatch, missing system features, local builds off
  timeout,        // max-silent-time or timeout
  log_limit,      // max-build-log-size exceeded
  hash_mismatch,  // fixed-output hash mismatch
  remote,         // failed on a remote builder (machine)
};
std::string_view failure_kind_name(FailureKind k);
std::optional<FailureKind> failure_kind_from_name(std::string_view name);

// Times shared by every completed activity.
struct Span {
  uint64_t activity_id = 0;  // Nix's id; stored bit-for-bit in SQLite's signed INTEGER
  int64_t start_ms = 0;      // wall clock at the start record
  int64_t end_ms = 0;        // wall clock at the stop record (or when it was interrupted)
  int64_t duration_ms = 0;   // monotonic, stop - start
  Outcome outcome = Outcome::success;
};

struct BuildRow {
  Span span;
  std::string drv_path;
  std::string name;     // without hash and ".drv"
  std::string machine;  // "local", or the remote builder's URI
  std::string phases;   // setPhase names in the order first seen, comma-separated
  int64_t log_lines = 0;
  std::optional<int64_t> exit_code;
  std::optional<FailureKind> failure_kind;  // with Outcome::failed, when Nix said why
  // CPU time of the builder's processes, where the stream reports it (Determinate Nix's
  // buildResult `cpuUser`/`cpuSystem`); absent otherwise, never 0 for "unknown".
  std::optional<int64_t> cpu_user_us, cpu_system_us;
};

struct SubstitutionRow {
  Span span;
  std::string store_path;
  std::string name;
  std::string substituter;
  std::optional<int64_t> download_bytes;  // from the .nar fileTransfer, when the stream says
  std::optional<int64_t> nar_bytes;       // from the copyPath progress, when the stream says
};

struct CacheQueryRow {
  Span span;
  std::string store_path;
  std::string cache;
  std::optional<bool> hit;  // nullopt: the stream never told (see docs/nod-schema.md)
};

struct TransferRow {
  Span span;
  std::string url;
  std::optional<int64_t> bytes;
};

struct CopyRow {
  Span span;
  std::string store_path;
  std::string source;
  std::string destination;
  std::optional<int64_t> bytes;
};

// A `git fetch` of a Git repository: Nix's activity type 112 (actFetchTree), whose text names the
// URL. Its stop does not say whether the fetch failed (Nix throws afterwards), so the outcome is
// unknown unless the stream ended first (interrupted).
struct GitFetchRow {
  Span span;
  std::string url;
};

// Any other activity, including types this version of nod does not know: nothing is lost.
struct ActivityRow {
  Span span;
  int64_t type = 0;
  std::string text;
  std::string fields_json;
};

struct FailureRow {
  int64_t time_ms = 0;
  FailureKind kind = FailureKind::builder;
  std::string drv_path;
  std::string name;
  std::string machine;  // remote failures only, else empty
  std::optional<int64_t> exit_code;
  std::string message;  // without ANSI colours, at most 4 KiB
};

// A record nod does not understand (unknown action or result type), kept raw (truncated).
struct UnknownRecordRow {
  int64_t time_ms = 0;
  std::string reason;  // "action:<name>" or "result-type:<n>"
  std::string raw;
};

// A failure message that arrived after its build was recorded as a success: fix that row (the
// most recent build of the derivation) and move it between aggregates.
struct BuildFailedLater {
  std::string drv_path;
  int64_t since_ms = 0;  // only rows that ended at or after this
  std::optional<int64_t> exit_code;
  std::optional<FailureKind> failure_kind;
};

using Event =
    std::variant<BuildRow, SubstitutionRow, CacheQueryRow, TransferRow, CopyRow, ActivityRow,
                 FailureRow, UnknownRecordRow, GitFetchRow, BuildFailedLater>;

}  // namespace nixmon::nod
