#pragma once
// Helpers every test uses: a temporary directory removed afterwards, golden-file comparison with
// an accept switch, and copying a fixture root to a scratch place.
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/host-root.hh"

namespace nixmon::test {

// A fresh directory under $TMPDIR, removed (recursively) by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::filesystem::path source_dir();
std::filesystem::path fixture_root(std::string_view name);  // tests/fixtures/roots/<name>

// Copies a directory tree, symlinks as symlinks.
void copy_tree(const std::filesystem::path& from, const std::filesystem::path& to);

// Makes under `root` what real Nix 2.8 makes for a new, empty store there (`nix-store --store
// ROOT ...`): nix/var/nix/db/schema, nix/var/nix/db/db.sqlite with Nix's tables, and Nix's state
// directories and links. Built from tests/fixtures/store-db/nix-2.8-empty/, which
// tests/fixtures/make-empty-store.py wrote with real Nix, so that unit tests need no nix-store
// (Nix's build sandbox has none). Throws on failure; `root` itself may exist.
void make_empty_nix_store(const std::filesystem::path& root);

// Holds an exclusive flock on a path, on its own open file description, as a live Nix process
// holds its temproots file (or a tmp- directory of a running build); released when destroyed.
class HeldLock {
 public:
  explicit HeldLock(const std::filesystem::path& p);
  ~HeldLock();
  HeldLock(const HeldLock&) = delete;
  HeldLock& operator=(const HeldLock&) = delete;

 private:
  int fd_;
};

// Runs `body` in a forked child that cannot read what only its owner may: as root it drops to
// nobody (65534), otherwise it keeps its uid (make such files mode 0 then: the owner is shut out
// too). Returns what `body` returned; the test fails when the child fails. Makes every directory
// from `tree` up to the temporary directory's parent traversable, so the child reaches `tree`.
std::string run_unprivileged(const std::filesystem::path& tree,
                             const std::function<std::string()>& body);

// Sets a symlink's own mtime (not its target's).
void set_link_mtime(const std::filesystem::path& link, long seconds_since_epoch);

// Compares `actual` with the golden file at `relative` (from the source dir); a mismatch fails the
// test with a unified diff. With NIXMON_ACCEPT=1 in the environment a mismatching (or missing) file
// is rewritten instead, and the test is marked skipped with the diff of what was rewritten, so an
// accept run never reports the goldens it changed as passed; an equal file passes as usual.
void expect_golden(std::string_view relative, const std::string& actual);

// expect_golden on any path, `accept` given rather than read from the environment; `shown` names
// the file in messages. What expect_golden and expect_golden_section call, and what tests of the
// accept switch call on a temporary file.
void expect_golden_file(const std::filesystem::path& path, std::string_view shown,
                        const std::string& actual, bool accept);

// True when NIXMON_ACCEPT=1 is set.
bool accept_mode();

// A unified diff (3 lines of context, `--- a/NAME` / `+++ b/NAME` headers) turning `expected` into
// `actual`, line by line; empty when they are equal.
std::string unified_diff(const std::string& expected, const std::string& actual,
                         std::string_view name);

// The same for a generated part of a hand-written file (a reference table in docs/): the text
// between the lines "<!-- generated: NAME (...) -->" and "<!-- end generated: NAME -->".
void expect_golden_section(std::string_view relative, std::string_view name,
                           const std::string& actual);

std::string read_text(const std::filesystem::path& path);
// Writes `text` to `path` as bytes, creating its parent directories; throws when it cannot.
void write_text(const std::filesystem::path& path, std::string_view text);

// A HostFs that answers like the real one except where a test says otherwise: every call on a
// local path ending in a chosen suffix fails with a chosen errno, and statvfs answers chosen
// figures. For errors a fake tree cannot make (EIO, EMFILE) and values it cannot pin.
class ScriptedFs : public HostFs {
 public:
  void fail(std::string path_suffix, int err) { failures_[std::move(path_suffix)] = err; }
  void set_statvfs(const struct statvfs& figures) { statvfs_ = figures; }

  int lstat(const std::filesystem::path& p, struct stat& out) const override;
  int read_link(const std::filesystem::path& p, std::string& target) const override;
  int read_file(const std::filesystem::path& p, std::size_t max_bytes,
                std::string& contents) const override;
  int list_dir(const std::filesystem::path& p, std::vector<std::string>& names) const override;
  int statvfs(const std::filesystem::path& p, struct statvfs& out) const override;

 private:
  int failure(const std::filesystem::path& p) const;
  std::map<std::string, int> failures_;
  std::optional<struct statvfs> statvfs_;
};

}  // namespace nixmon::test
