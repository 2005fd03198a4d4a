#pragma once
// Garbage-collector roots found the way Nix's own collector finds them (libstore gc.cc,
// findRoots/findRuntimeRoots), read through a HostRoot and never modified (Nix deletes stale
// gcroots/auto links; we only skip them).
//
// - /nix/var/nix/profiles and /nix/var/nix/gcroots, recursively, without following links to
//   directories: a link into the store is a root; a link elsewhere is an indirect root when its
//   target is itself a link into the store (gcroots/auto/<hash> -> /home/u/result ->
//   /nix/store/..); a regular file named like a store path roots that path. A target that is gone
//   is no root.
// - Chroot stores (nix --store /some/root) write physical targets ("/some/root/nix/var/..."): a
//   target under the HostRoot's own directory is taken as the host path below it.
// - Runtime roots (optional): store paths in /proc/<pid>/{exe,cwd,fd/*,maps,environ} and the
//   kernel's helper paths in /proc/sys/kernel.
//
// Whether a root's store path is valid is for the caller to check against the database.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/host-root.hh"

namespace nixmon::exporter {

enum class RootSource { profiles, gcroots, gcroots_auto, runtime };
std::string_view to_string(RootSource source);

struct GcRoot {
  std::string link;        // host path of the link (or file, or /proc entry) that holds the root
  std::string store_path;  // "/nix/store/<hash>-<name>", without any sub-path
  RootSource source;
};

// Per RootSource (indexed by its value): roots this process could not read (EACCES, ELOOP), e.g. a
// result link in a home directory the exporter may not enter, which Nix, as root, does read.
using UnreadableRoots = std::array<std::uint64_t, 4>;

// Roots from the profiles and gcroots trees, each link once. Entries that cannot be read (EACCES,
// ENOENT, ENOTDIR, ELOOP) are skipped, as Nix skips them; those that exist but could not be read
// are counted in `unreadable` when given. Other failures throw SysError.
std::vector<GcRoot> find_gc_roots(const HostRoot& root, UnreadableRoots* unreadable = nullptr);

// Runtime roots from /proc under the root, one per (entry, store path). Processes that exit or
// cannot be read (another user's, without privileges) are skipped.
std::vector<GcRoot> find_runtime_roots(const HostRoot& root);

// Store paths mentioned anywhere in `text` (as Nix's runtime-root regex finds them), each as
// "/nix/store/<hash>-<name>".
std::vector<std::string> store_paths_in(std::string_view text);

}  // namespace nixmon::exporter
