#pragma once
// What Nix's own words and numbers say about how a build or substitution ended: its error
// messages, the progress counters of the `builds` and `copyPaths` activities, and Determinate
// Nix's `buildResult` / `hashMismatch` payloads. Pure functions on text and numbers, no state:
// the activity tracker decides which activity they belong to.
//
// Every recognised wording is checked against Nix's sources; docs/nod-schema.md ("Outcomes")
// lists them with the versions that write them. Nothing here throws on any input.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tracking/events.hh"

namespace nixmon::nod {

// A level-0 message that reports a failure or an interruption.
struct NixMessage {
  enum class What { failure, interrupted } what = What::failure;
  FailureKind kind = FailureKind::builder;
  std::string drv_path;  // empty when the message names none (timeouts since Nix 2.34)
  std::string machine;   // remote failures
  std::optional<int64_t> exit_code;

  static NixMessage failure(FailureKind kind, std::string drv = {}, std::string machine = {}) {
    NixMessage m;
    m.kind = kind;
    m.drv_path = std::move(drv);
    m.machine = std::move(machine);
    return m;
  }
};

// Reads a message by its own structure, never by text quoted inside it: the wording must start
// the message (after Nix's "error: " prefix when the record has no raw_msg), and a "Reason:" line
// counts only in the header before the output paths and the quoted log lines.
// `text` is without ANSI escapes. `has_raw_msg`: the record came from Nix's logEI (raw_msg is the
// message without the "error: " prefix); otherwise `text` is the msg as a relayed line.
std::optional<NixMessage> classify_message(std::string_view text, bool has_raw_msg);

// A message that says a file transfer (activity 101) failed, naming its URL the way the
// transfer's start did. Nix's curl code retries transient errors with a warning ending in
// "; retrying in N ms" (the transfer goes on, and may succeed): those are not failures.
//   "unable to download '<url>': HTTP error N[ ('<status text>')]..." / "unable to upload ..."
//     (filetransfer.cc, every version; thrown, then logged by whoever caught it)
//   "file '<path>' does not exist in binary cache '<cache>'" (http-binary-cache-store.cc, a 404
//     on a cache): the URL is "<cache>/<path>"
// The same structure rules as classify_message: the wording must start the message.
std::optional<std::string> failed_transfer_url(std::string_view text, bool has_raw_msg);

// "build of '<path>'[, '<path>'...] failed" (entry-points.cc, every version): the store paths
// whose goals failed, when the message is exactly that; empty otherwise. Remote failures
// ("build of '<drv>' on '<machine>' failed: ...") are not this message.
std::vector<std::string> failed_goal_paths(std::string_view text, bool has_raw_msg);

// One `progress` result of the builds (104) or copyPaths (103) activity: [done, expected,
// running, failed]. Nix bumps `running` when a build starts and drops it, together with `done`
// or `failed`, in the one update that ends it; a failure that never started a build (rejected
// input) raises `failed` alone, a dependency failure raises nothing.
struct Progress {
  int64_t done = 0, expected = 0, running = 0, failed = 0;
};
struct ProgressStep {
  int64_t ended_ok = 0;          // started and succeeded
  int64_t ended_failed = 0;      // started and failed
  int64_t failed_unstarted = 0;  // failed without ever running
};
ProgressStep progress_step(const Progress& before, const Progress& after);

// Determinate Nix's buildResult payload (result type 110), the keys its BuildResult serialiser
// writes: times in seconds (time_t), CPU times in microseconds, `path` either a store path base
// name (substitution) or {"drvPath": base name, "outputs": [...]} (build).
struct BuildResultPayload {
  std::string status;
  bool success = false;
  std::optional<int64_t> start_time_s, stop_time_s, cpu_user_us, cpu_system_us, times_built;
  std::string error_msg;
  std::string drv_name;    // "<hash>-<name>.drv", builds
  std::string store_name;  // "<hash>-<name>", substitutions
};
std::optional<BuildResultPayload> parse_build_result(std::string_view payload_json);
// Determinate Nix's hashMismatch payload (result type 109): the derivation's full store path.
std::optional<std::string> parse_hash_mismatch(std::string_view payload_json);

// What a BuildResult status means to nod.
struct StatusMeaning {
  Outcome outcome = Outcome::unknown;
  std::optional<FailureKind> kind;
};
std::optional<StatusMeaning> build_status_meaning(std::string_view status);

// The same cache named the same way in queries and substitutions: Nix >= 2.33 renders an S3
// store without its query in queryPathInfo but with region/profile/scheme/endpoint in
// substitutions; both become the bare `s3://bucket`.
std::string normalise_cache_uri(std::string_view uri);

// "/nix/store/<hash>-<name>.drv" ends with "/<base>".
bool store_path_has_base(std::string_view path, std::string_view base);

}  // namespace nixmon::nod
