#include "exporter/flake/flake-metadata.hh"

#include <gtest/gtest.h>

#include "common/error.hh"

using namespace nixmon;
using namespace nixmon::exporter;

namespace {
// Trimmed from `nix flake metadata --json git+file://...` (Nix 2.8) of a flake with a git input,
// a path input and an input that follows another input's nixpkgs.
constexpr std::string_view metadata_json = R"({
  "lastModified": 1700000100,
  "locked": {"rev": "5c21539b5c602dfc73b6eb39ff95a630554a85e5", "type": "git"},
  "locks": {
    "nodes": {
      "dep": {"inputs": {"nixpkgs": "nixpkgs"},
              "locked": {"lastModified": 1700000000, "narHash": "sha256-x",
                         "rev": "712df8d3f93442637d0bace952b656af2f0236ba", "type": "git",
                         "url": "file:///x/dep"},
              "original": {"type": "git", "url": "file:///x/dep"}},
      "nixpkgs": {"locked": {"lastModified": 1690000000, "narHash": "sha256-y",
                             "path": "/x/nixpkgs", "type": "path"}},
      "root": {"inputs": {"dep": "dep", "nixpkgs": ["dep", "nixpkgs"]}}
    },
    "root": "root",
    "version": 7
  },
  "revision": "5c21539b5c602dfc73b6eb39ff95a630554a85e5",
  "url": "git+file:///x/main?rev=5c21539b5c602dfc73b6eb39ff95a630554a85e5"
})";
}  // namespace

TEST(FlakeMetadata, ParsesRevisionAndDirectInputsWithFollows) {
  auto m = parse_flake_metadata(metadata_json);
  EXPECT_EQ(m.revision, "5c21539b5c602dfc73b6eb39ff95a630554a85e5");
  EXPECT_EQ(m.last_modified, 1700000100);
  ASSERT_EQ(m.inputs.size(), 2u);
  EXPECT_EQ(m.inputs[0],
            (FlakeInput{"dep", "712df8d3f93442637d0bace952b656af2f0236ba", "git", 1700000000}));
  // "nixpkgs" follows dep/nixpkgs: reported with that node's lock, and a path has no rev.
  EXPECT_EQ(m.inputs[1], (FlakeInput{"nixpkgs", std::nullopt, "path", 1690000000}));
}

TEST(FlakeMetadata, DirtyTreeHasNoRevisionAndNoLockMeansNoInputs) {
  auto m = parse_flake_metadata(R"({"lastModified": 5, "url": "path:/x"})");
  EXPECT_FALSE(m.revision);
  EXPECT_TRUE(m.inputs.empty());
  EXPECT_FALSE(parse_flake_metadata(R"({"revision": ""})").revision);
}

TEST(FlakeMetadata, MalformedInputThrows) {
  for (std::string_view bad : {
           "", "not json", "[1, 2]", "\"string\"", R"({"revision": "abc", "locks": 7})",
           R"({"locks": {"root": "root"}})", R"({"locks": {"nodes": {}, "root": "root"}})",
           R"({"locks": {"nodes": {"root": {"inputs": []}}, "root": "root"}})",
           R"({"locks": {"nodes": {"root": {"inputs": {"a": 5}}}, "root": "root"}})",
           R"({"locks": {"nodes": {"root": {"inputs": {"a": [5]}}}, "root": "root"}})",
           R"({"revision": "abc", "locks": {"nodes": )",  // truncated output
       }) {
    EXPECT_THROW(parse_flake_metadata(bad), Error) << bad;
  }
}

TEST(FlakeMetadata, OddButValidLocksAreTolerated) {
  // An input whose node lacks "locked" is skipped; a follows path to nowhere is skipped; a
  // lastModified that is not a number is unknown; a missing type is "unknown".
  auto m = parse_flake_metadata(R"({"locks": {"nodes": {
      "a": {"original": {}},
      "b": {"locked": {"lastModified": "yesterday", "rev": "r"}},
      "root": {"inputs": {"a": "a", "b": "b", "c": ["a", "nope"], "d": "missing"}}},
    "root": "root", "version": 7}})");
  ASSERT_EQ(m.inputs.size(), 1u);
  EXPECT_EQ(m.inputs[0], (FlakeInput{"b", "r", "unknown", std::nullopt}));
}

TEST(FlakeMetadata, CyclicFollowsThrows) {
  EXPECT_THROW(parse_flake_lock(R"({"nodes": {
      "x": {"inputs": {"y": ["x", "y"]}},
      "root": {"inputs": {"x": "x", "z": ["x", "y"]}}}, "root": "root"})"),
               Error);
}

TEST(FlakeLock, ParsesALockFile) {
  auto inputs = parse_flake_lock(R"({"nodes": {
      "nixpkgs": {"locked": {"lastModified": 1, "owner": "NixOS", "repo": "nixpkgs",
                             "rev": "abc", "type": "github"}},
      "root": {"inputs": {"nixpkgs": "nixpkgs"}}}, "root": "root", "version": 7})");
  ASSERT_EQ(inputs.size(), 1u);
  EXPECT_EQ(inputs[0], (FlakeInput{"nixpkgs", "abc", "github", 1}));
  EXPECT_TRUE(parse_flake_lock(R"({"nodes": {"root": {}}, "root": "root", "version": 7})").empty());
}
