#include "exporter/store/store-dir-scan.hh"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <utility>

#include "common/error.hh"
#include "common/store-path.hh"
#include "exporter/store/store-db.hh"

namespace nixmon::exporter {

namespace {

constexpr std::size_t hash_len = StorePath::hash_len;
constexpr std::string_view links_name = ".links";

// An open file descriptor, closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_;
};

// A directory stream, closed on scope exit.
class Dir {
 public:
  explicit Dir(DIR* d) : d_(d) {}
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;
  ~Dir() {
    if (d_) ::closedir(d_);
  }
  DIR* get() const { return d_; }
  explicit operator bool() const { return d_ != nullptr; }

 private:
  DIR* d_;
};

// Whether another process holds an exclusive flock on `fd`. A shared lock is tried and dropped
// at once: it never conflicts with a live owner's exclusive lock, and a dead owner's file has no
// lock to take from anyone.
bool locked_by_another(int fd, const std::string& what) {
  while (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return true;
    if (errno != EINTR) throw SysError("probing the lock of '{}'", what);
  }
  ::flock(fd, LOCK_UN);
  return false;
}

// Sums the blocks an inode tree frees. Inodes with several links are counted once, and only when
// every link was seen inside the tree: a file also linked from elsewhere (.links, another path)
// frees nothing when this entry goes. Each directory level holds two descriptors and a stack
// frame, so the walk stops at max_depth levels and the entry counts as unmeasured: a partial
// output nested that deep must not exhaust the process's descriptors (the HTTP and NATS threads
// share them) or its stack.
class DiskWalker {
 public:
  static constexpr int max_depth = 256;

  bool add(int dir_fd, const char* name, int depth = 0) {
    struct stat st;
    if (::fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno == ENOENT;
    std::uint64_t bytes = static_cast<std::uint64_t>(st.st_blocks) * 512;
    if (S_ISDIR(st.st_mode)) {
      total_ += bytes;
      if (depth >= max_depth) return false;
      Fd fd(::openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd) return errno == ENOENT;
      return add_children(fd.get(), depth + 1);
    }
    if (st.st_nlink <= 1) {
      total_ += bytes;
      return true;
    }
    if (++links_seen_[{st.st_dev, st.st_ino}] == st.st_nlink) total_ += bytes;
    return true;
  }

  bool add_children(int fd, int depth = 0) {
    int dup = ::dup(fd);
    if (dup < 0) return false;
    Dir d(::fdopendir(dup));
    if (!d) {
      ::close(dup);
      return false;
    }
    bool ok = true;
    for (;;) {
      errno = 0;
      auto* e = ::readdir(d.get());
      if (!e) return errno == 0 && ok;
      std::string_view n = e->d_name;
      if (n != "." && n != "..") ok = add(fd, e->d_name, depth) && ok;
    }
  }

  std::uint64_t total() const { return total_; }

 private:
  std::uint64_t total_ = 0;
  std::map<std::pair<dev_t, ino_t>, nlink_t> links_seen_;
};

std::string_view base_name(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// Nix >= 2.12 skips a "tmp-*" entry it cannot open as a directory or cannot lock exclusively.
bool held_temp_dir(const std::string& local_path) {
  Fd fd(::open(local_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return true;
  return locked_by_another(fd.get(), local_path);
}

}  // namespace

bool is_store_path_name(std::string_view name) {
  return StorePath::maybe(name).has_value();
}

bool TempRoots::holds_hash(std::string_view hash) const {
  return std::binary_search(hashes.begin(), hashes.end(), hash);
}

TempRoots read_temp_roots(const HostRoot& root) {
  TempRoots t;
  auto names = root.list_dir(temp_roots_dir);
  if (!names) return t;
  for (const auto& name : *names) {
    if (name.empty() || name[0] == '.') continue;  // hidden files keep the directory alive
    std::string host = std::string(temp_roots_dir) + "/" + name;
    std::string local = root.local(host).string();
    Fd fd(::open(local.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) {
      if (errno == ENOENT) continue;  // its process ended meanwhile
      if (errno == EACCES || errno == EPERM) {
        ++t.unreadable_files;
        continue;
      }
      throw SysError("opening temporary roots file '{}'", local);
    }
    if (!locked_by_another(fd.get(), local)) {
      ++t.stale_files;
      continue;
    }
    ++t.live_files;
    std::string contents;
    char buf[65536];
    for (;;) {
      auto n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw SysError("reading temporary roots file '{}'", local);
      if (n == 0) break;
      contents.append(buf, static_cast<std::size_t>(n));
    }
    // Only NUL-terminated records count: the last one may be half written.
    std::size_t pos = 0, end;
    while ((end = contents.find('\0', pos)) != std::string::npos) {
      std::string_view p(contents.data() + pos, end - pos);
      pos = end + 1;
      bool in_store = p.size() > nix_store_dir.size() + 1 && p.starts_with(nix_store_dir) &&
                      p[nix_store_dir.size()] == '/';
      if (!in_store || !is_store_path_name(p.substr(nix_store_dir.size() + 1)))
        throw Error(fmt::format("temporary roots file '{}': '{}' is not a store path", local, p));
      t.paths.emplace_back(p);
    }
  }
  std::sort(t.paths.begin(), t.paths.end());
  t.paths.erase(std::unique(t.paths.begin(), t.paths.end()), t.paths.end());
  for (const auto& p : t.paths) t.hashes.emplace_back(base_name(p).substr(0, hash_len));
  std::sort(t.hashes.begin(), t.hashes.end());
  t.hashes.erase(std::unique(t.hashes.begin(), t.hashes.end()), t.hashes.end());
  return t;
}

std::optional<StoreDirStamp> store_dir_stamp(const HostRoot& root) {
  auto st = root.lstat(nix_store_dir);
  if (!st) return std::nullopt;
  return StoreDirStamp{st->st_ino,
                       std::int64_t(st->st_mtim.tv_sec) * 1000000000 + st->st_mtim.tv_nsec};
}

std::optional<std::uint64_t> disk_bytes_freed(const std::string& local_path) {
  DiskWalker w;
  auto slash = local_path.rfind('/');
  std::string parent = slash == 0 ? "/" : local_path.substr(0, slash);
  Fd dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return std::nullopt;
  if (!w.add(dir.get(), local_path.c_str() + slash + 1)) return std::nullopt;
  return w.total();
}

std::vector<std::string> list_invalid_names(const HostRoot& root,
                                            const std::function<bool(std::string_view)>& is_valid) {
  std::vector<std::string> out;
  std::string store = root.local(nix_store_dir).string();
  Dir d(::opendir(store.c_str()));
  if (!d) throw SysError("opening the store directory '{}'", store);
  for (;;) {
    errno = 0;
    auto* e = ::readdir(d.get());
    if (!e) {
      if (errno != 0) throw SysError("reading the store directory '{}'", store);
      break;
    }
    std::string name = e->d_name;
    if (!is_candidate_name(name)) continue;
    if (is_store_path_name(name) && is_valid(name)) continue;
    out.push_back(std::move(name));
  }
  return out;
}

bool is_candidate_name(std::string_view name) {
  return name != "." && name != ".." && name != links_name && !name.empty() &&
         name.find('/') == std::string_view::npos;
}

InvalidEntries classify_invalid_entries(const HostRoot& root, const std::vector<std::string>& names,
                                        const TempRoots& temp_roots) {
  InvalidEntries out;
  std::string store = root.local(nix_store_dir).string();
  for (const auto& name : names) {
    std::string local = store + "/" + name;
    // Gone since it was listed: nothing to delete, nothing held.
    struct stat st;
    if (::lstat(local.c_str(), &st) != 0 && errno == ENOENT) continue;
    if (is_store_path_name(name)) {
      if (temp_roots.holds_hash(std::string_view(name).substr(0, hash_len))) {
        ++out.held;
        continue;
      }
    } else if (name.starts_with("tmp-") && held_temp_dir(local)) {
      ++out.held;
      continue;
    }
    out.reclaimable.push_back({name, disk_bytes_freed(local)});
  }
  return out;
}

InvalidEntries scan_invalid_entries(const HostRoot& root,
                                    const std::function<bool(std::string_view)>& is_valid,
                                    const TempRoots& temp_roots) {
  return classify_invalid_entries(root, list_invalid_names(root, is_valid), temp_roots);
}

InvalidEntries scan_invalid_entries(const HostRoot& root, const StoreGraph& graph,
                                    const TempRoots& temp_roots) {
  std::string path(nix_store_dir);
  path += '/';
  auto prefix = path.size();
  return scan_invalid_entries(
      root,
      [&](std::string_view name) {
        path.resize(prefix);
        path += name;
        return graph.find(path).has_value();
      },
      temp_roots);
}

InvalidSummary summarise(const InvalidEntries& entries) {
  InvalidSummary s;
  s.entries = entries.reclaimable.size();
  s.held = entries.held;
  std::uint64_t bytes = 0;
  for (const auto& e : entries.reclaimable) {
    if (e.disk_bytes)
      bytes += *e.disk_bytes;
    else
      ++s.unmeasured;
  }
  if (s.unmeasured == 0) s.disk_bytes = bytes;
  return s;
}

}  // namespace nixmon::exporter
