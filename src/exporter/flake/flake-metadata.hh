#pragma once
// What `nix flake metadata --json <url>` says about a flake: its revision and the direct inputs
// of its lock file. Parsed with simdjson; anything malformed throws Error with what was wrong.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nixmon::exporter {

struct FlakeInput {
  std::string name;                           // as the root node names it ("nixpkgs")
  std::optional<std::string> rev;             // locked.rev; absent for path and tarball inputs
  std::string type;                           // locked.type: git, github, path, tarball, ...
  std::optional<std::int64_t> last_modified;  // locked.lastModified, Unix seconds
  bool operator==(const FlakeInput&) const = default;
};

struct FlakeMetadata {
  std::optional<std::string> revision;  // absent when the tree is dirty or not a git flake
  std::optional<std::int64_t> last_modified;
  std::vector<FlakeInput> inputs;  // direct inputs of the root node, sorted by name
  bool operator==(const FlakeMetadata&) const = default;
};

// The whole output of `nix flake metadata --json`. Throws Error when it is not a JSON object or
// its "locks" is malformed. A flake without a lock file (no "locks") has no inputs.
FlakeMetadata parse_flake_metadata(std::string_view json);

// A flake.lock file (the "locks" member of the metadata has the same shape): the direct inputs of
// the root node, "follows" paths resolved. Throws Error when malformed; an input whose node has no
// "locked" attribute set is skipped (nothing to report of it).
std::vector<FlakeInput> parse_flake_lock(std::string_view json);

}  // namespace nixmon::exporter
