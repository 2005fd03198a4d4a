#pragma once
// Every host path the programs read goes through a HostRoot, so that tests and benchmarks run on a
// fake NixOS tree (`--path.root`). Paths handed in and out are "host paths": absolute, as the host
// would see them ("/run/current-system"). Symlinks are followed inside the root, never out of it:
// an absolute link target is re-rooted.
//
// The system calls themselves go through a HostFs, the file-system half of the programs'
// environment (the other half is common/clock.hh): the real one by default, a test's own where a
// test must pin what the host answers (statvfs figures, an EIO on one file, a file that vanishes
// between a listing and a read).
//
// Thread-safety: immutable after construction; all methods may be called from any thread.
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nixmon {

// The primitive file-system calls HostRoot makes, on local paths (already below the root). Each
// returns 0 or the errno value of its failure and never throws, so that HostRoot alone decides
// what is "absent" (ENOENT, ENOTDIR) and what is an error, with the errno the call really set.
// Implementations must be thread-safe; the real one is stateless.
class HostFs {
 public:
  virtual ~HostFs() = default;
  virtual int lstat(const std::filesystem::path& path, struct stat& out) const;
  virtual int read_link(const std::filesystem::path& path, std::string& target) const;
  // At most max_bytes + 1 bytes, so the caller sees that the file is larger; follows no links
  // (HostRoot resolves them first).
  virtual int read_file(const std::filesystem::path& path, std::size_t max_bytes,
                        std::string& contents) const;
  // Names without "." and "..", in any order.
  virtual int list_dir(const std::filesystem::path& path, std::vector<std::string>& names) const;
  virtual int statvfs(const std::filesystem::path& path, struct statvfs& out) const;
};

// The process's real file system (stateless, shared).
std::shared_ptr<const HostFs> real_host_fs();

class HostRoot {
 public:
  explicit HostRoot(std::filesystem::path root = "/", std::shared_ptr<const HostFs> fs = nullptr);

  const std::filesystem::path& root() const { return root_; }

  // Where the host path `host_path` is on this machine.
  std::filesystem::path local(std::string_view host_path) const;

  // The target text of a symlink; nullopt when nothing is there. Throws SysError when the path
  // exists but is no symlink or cannot be read.
  std::optional<std::string> read_link(std::string_view host_path) const;

  // Follows every symlink on the way, inside the root, like `realpath -m`: components that do not
  // exist are kept as written. Throws SysError on loops (ELOOP) and unreadable directories.
  std::string resolve(std::string_view host_path) const;

  // lstat/stat (the latter following links inside the root); nullopt when the path does not exist.
  // Other failures throw SysError.
  std::optional<struct stat> lstat(std::string_view host_path) const;
  std::optional<struct stat> stat(std::string_view host_path) const;

  // A small file's contents, following links inside the root; nullopt when it does not exist.
  // Throws SysError when unreadable and Error when it is larger than `max_bytes`.
  std::optional<std::string> read_file(std::string_view host_path,
                                       std::size_t max_bytes = 1 << 20) const;

  // Names in a directory (following links inside the root), without "." and "..", sorted.
  // nullopt when the directory does not exist; throws SysError when it cannot be read.
  std::optional<std::vector<std::string>> list_dir(std::string_view host_path) const;

  // statvfs(3) of the filesystem holding a path (following links inside the root); nullopt when
  // the path does not exist. Throws SysError otherwise.
  std::optional<struct statvfs> statvfs(std::string_view host_path) const;

 private:
  std::filesystem::path root_;
  std::shared_ptr<const HostFs> fs_;
};

// The names in a directory of this machine (a local path, not re-rooted), sorted, without "." and
// ".."; nullopt when it does not exist. For a tree whose links must not be re-rooted, such as a
// /proc the root links to. Throws SysError otherwise.
std::optional<std::vector<std::string>> list_local_dir(const std::filesystem::path& path);

// Checks a `--path.root` value before anything reads below it: it must name an existing directory
// (following links). A missing or non-directory root would otherwise start an exporter that serves
// "nothing found" for a host that is not there. Throws UsageError naming `flag`, the path and why.
void check_root_directory(const std::filesystem::path& root, std::string_view flag);

}  // namespace nixmon
