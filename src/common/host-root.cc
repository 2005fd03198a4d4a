#include "common/host-root.hh"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>

#include "common/error.hh"
#include "common/fd.hh"

namespace nixmon {

namespace {

// Splits "/a//b/./c" into {"a", "b", "c"}; keeps "..", which resolve() interprets.
std::deque<std::string> split_path(std::string_view p) {
  std::deque<std::string> out;
  std::size_t i = 0;
  while (i < p.size()) {
    std::size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    std::string_view c = p.substr(i, j - i);
    if (!c.empty() && c != ".") out.emplace_back(c);
    i = j + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& parts) {
  if (parts.empty()) return "/";
  std::string s;
  for (const auto& p : parts) {
    s += '/';
    s += p;
  }
  return s;
}

constexpr int max_symlink_hops = 40;  // as Linux's own limit

bool absent(int err) {
  return err == ENOENT || err == ENOTDIR;
}

}  // namespace

int HostFs::lstat(const std::filesystem::path& path, struct stat& out) const {
  return ::lstat(path.c_str(), &out) == 0 ? 0 : errno;
}

int HostFs::read_link(const std::filesystem::path& path, std::string& target) const {
  std::string buf(256, '\0');
  for (;;) {
    ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
    if (n < 0) return errno;
    if (static_cast<std::size_t>(n) < buf.size()) {
      buf.resize(n);
      target = std::move(buf);
      return 0;
    }
    buf.resize(buf.size() * 2);
  }
}

int HostFs::read_file(const std::filesystem::path& path, std::size_t max_bytes,
                      std::string& contents) const {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errno;
  contents.clear();
  char buf[8192];
  while (contents.size() <= max_bytes) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) break;
    contents.append(buf, n);
  }
  return 0;
}

int HostFs::list_dir(const std::filesystem::path& path, std::vector<std::string>& names) const {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(path.c_str()), ::closedir);
  if (!dir) return errno;
  names.clear();
  errno = 0;
  while (struct dirent* e = ::readdir(dir.get())) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  return errno;
}

int HostFs::statvfs(const std::filesystem::path& path, struct statvfs& out) const {
  return ::statvfs(path.c_str(), &out) == 0 ? 0 : errno;
}

std::shared_ptr<const HostFs> real_host_fs() {
  static const auto fs = std::make_shared<const HostFs>();
  return fs;
}

HostRoot::HostRoot(std::filesystem::path root, std::shared_ptr<const HostFs> fs)
    : root_(std::move(root)), fs_(fs ? std::move(fs) : real_host_fs()) {}

std::filesystem::path HostRoot::local(std::string_view host_path) const {
  std::string p(host_path);
  while (!p.empty() && p.front() == '/') p.erase(p.begin());
  return root_ / p;
}

std::optional<struct stat> HostRoot::lstat(std::string_view host_path) const {
  struct stat st;
  auto path = local(host_path);
  int err = fs_->lstat(path, st);
  if (err == 0) return st;
  if (absent(err)) return std::nullopt;
  throw SysError(err, "cannot stat '{}'", path.c_str());
}

std::optional<struct stat> HostRoot::stat(std::string_view host_path) const {
  return lstat(resolve(host_path));
}

std::optional<std::string> HostRoot::read_link(std::string_view host_path) const {
  auto path = local(host_path);
  std::string target;
  int err = fs_->read_link(path, target);
  if (err == 0) return target;
  if (absent(err)) return std::nullopt;
  throw SysError(err, "cannot read link '{}'", path.c_str());
}

std::string HostRoot::resolve(std::string_view host_path) const {
  std::vector<std::string> done;
  auto pending = split_path(host_path);
  int hops = 0;
  bool missing = false;  // once a component is missing, the rest is taken lexically
  while (!pending.empty()) {
    std::string c = std::move(pending.front());
    pending.pop_front();
    if (c == "..") {
      if (!done.empty()) done.pop_back();
      continue;
    }
    done.push_back(c);
    if (missing) continue;
    auto st = lstat(join(done));
    if (!st) {
      missing = true;
      continue;
    }
    if (!S_ISLNK(st->st_mode)) continue;
    if (++hops > max_symlink_hops)
      throw SysError(ELOOP, "cannot resolve '{}' in '{}'", host_path, root_.c_str());
    // A link that vanished between the lstat and here is a missing component, like one that was
    // never there.
    auto target = read_link(join(done));
    if (!target) {
      missing = true;
      continue;
    }
    done.pop_back();
    if (!target->empty() && target->front() == '/') done.clear();
    auto more = split_path(*target);
    pending.insert(pending.begin(), more.begin(), more.end());
  }
  return join(done);
}

std::optional<std::string> HostRoot::read_file(std::string_view host_path,
                                               std::size_t max_bytes) const {
  auto path = local(resolve(host_path));
  std::string out;
  int err = fs_->read_file(path, max_bytes, out);
  if (absent(err)) return std::nullopt;
  if (err != 0) throw SysError(err, "cannot read '{}'", path.c_str());
  if (out.size() > max_bytes)
    throw Error(fmt::format("'{}' is larger than {} bytes", path.string(), max_bytes));
  return out;
}

std::optional<std::vector<std::string>> HostRoot::list_dir(std::string_view host_path) const {
  auto path = local(resolve(host_path));
  std::vector<std::string> names;
  int err = fs_->list_dir(path, names);
  if (absent(err)) return std::nullopt;
  if (err != 0) throw SysError(err, "cannot list '{}'", path.c_str());
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<struct statvfs> HostRoot::statvfs(std::string_view host_path) const {
  auto path = local(resolve(host_path));
  struct statvfs fs;
  int err = fs_->statvfs(path, fs);
  if (err == 0) return fs;
  if (absent(err)) return std::nullopt;
  throw SysError(err, "cannot statvfs '{}'", path.c_str());
}

std::optional<std::vector<std::string>> list_local_dir(const std::filesystem::path& path) {
  std::vector<std::string> names;
  int err = real_host_fs()->list_dir(path, names);
  if (absent(err)) return std::nullopt;
  if (err != 0) throw SysError(err, "cannot list '{}'", path.c_str());
  std::sort(names.begin(), names.end());
  return names;
}

void check_root_directory(const std::filesystem::path& root, std::string_view flag) {
  constexpr std::string_view why = "it must be the directory where the host's / is";
  struct stat st;
  if (::stat(root.c_str(), &st) != 0)
    throw UsageError(fmt::format("{} {}: {} ({})", flag, root.string(), std::strerror(errno), why));
  if (!S_ISDIR(st.st_mode))
    throw UsageError(fmt::format("{} {}: not a directory ({})", flag, root.string(), why));
}

}  // namespace nixmon
