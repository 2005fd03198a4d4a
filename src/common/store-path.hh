#pragma once
// Store paths as Nix defines them: "<store dir>/<hash part>-<name>", the hash part 32 characters of
// Nix's base-32, the name at most 211 characters from a small alphabet (the rules are Nix's own,
// NixOS/nix 2.28.0 src/libstore/path.cc: checkName, StorePath::StorePath).
//
// Two ways to look at a path, kept apart on purpose:
// - StorePath / StoreDir::parse validate, for input that claims to be a store path (the store
//   directory's entries, a database row, a record of Nix's log) and must be rejected otherwise.
// - StoreDir::entry_of and display_name are lexical, for host paths shown to people or used as
//   labels: a fake tree's "/nix/store/x-bash" or a log record that is not quite a store path keeps
//   the name it came with instead of failing a collector.
//
// Thread-safety: values; all functions may be called from any thread.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hh"

namespace nixmon {

inline constexpr std::string_view default_store_dir = "/nix/store";

// A name or path that breaks Nix's rules; the message says which rule.
class BadStorePath : public Error {
 public:
  using Error::Error;
};

// Throws BadStorePath unless `name` (the part after "<hash>-") is a valid store path name.
void check_store_path_name(std::string_view name);

// One store object's base name, "<hash part>-<name>", validated.
class StorePath {
 public:
  static constexpr std::size_t hash_len = 32;       // 160 bits in Nix's base-32
  static constexpr std::size_t max_name_len = 211;  // Nix's StorePath::MaxPathLen
  static constexpr std::string_view drv_extension = ".drv";

  // Throws BadStorePath naming the base name and the rule it breaks.
  explicit StorePath(std::string_view base_name);

  // nullopt where the constructor would throw.
  static std::optional<StorePath> maybe(std::string_view base_name);

  std::string_view base_name() const { return base_name_; }
  std::string_view hash_part() const { return std::string_view(base_name_).substr(0, hash_len); }
  std::string_view name() const { return std::string_view(base_name_).substr(hash_len + 1); }
  bool is_derivation() const { return name().ends_with(drv_extension); }

  friend bool operator==(const StorePath&, const StorePath&) = default;
  friend auto operator<=>(const StorePath&, const StorePath&) = default;

 private:
  std::string base_name_;
};

// A store directory ("/nix/store" unless the host's Nix was built with another one).
class StoreDir {
 public:
  explicit StoreDir(std::string dir = std::string(default_store_dir));

  const std::string& dir() const { return dir_; }

  // "/nix/store/<hash>-foo" -> that StorePath. Throws BadStorePath when the path is not directly
  // in this store directory (a path below an entry is not a store path) or its base name is bad.
  StorePath parse(std::string_view path) const;
  std::optional<StorePath> maybe_parse(std::string_view path) const;

  // "<dir>/" + base name.
  std::string print(const StorePath& p) const;

  // The store entry a path is in, lexically: "/nix/store/abc-foo/bin/x" -> "abc-foo"; nullopt for
  // a path outside the store directory or the directory itself. No validation (see above).
  std::optional<std::string_view> entry_of(std::string_view path) const;

 private:
  std::string dir_;
};

// StoreDir(store_dir).entry_of(path), without making a StoreDir.
std::optional<std::string_view> store_entry_of(std::string_view path,
                                               std::string_view store_dir = default_store_dir);

// "<hash>-linux-6.6.30" -> "linux-6.6.30": a base name without its hash part; returned unchanged
// when it has no 32-character hash part and dash. Lexical, like entry_of.
std::string_view strip_store_hash(std::string_view base_name);

// The name a build or download is known by: the last component of `path` without its hash part
// and without ".drv" ("/nix/store/<hash>-hello-2.12.drv" -> "hello-2.12"). Lexical: text that is
// no store path comes back as its last component.
std::string_view display_name(std::string_view path);

}  // namespace nixmon
