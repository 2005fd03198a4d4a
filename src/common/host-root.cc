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

}  // namespace

HostRoot::HostRoot(std::filesystem::path root) : root_(std::move(root)) {}

std::filesystem::path HostRoot::local(std::string_view host_path) const {
  std::string p(host_path);
  while (!p.empty() && p.front() == '/') p.erase(p.begin());
  return root_ / p;
}

std::optional<struct stat> HostRoot::lstat(std::string_view host_path) const {
  struct stat st;
  auto path = local(host_path);
  if (::lstat(path.c_str(), &st) == 0) return st;
  if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
  throw SysError("cannot stat '" + path.string() + "'");
}

std::optional<struct stat> HostRoot::stat(std::string_view host_path) const {
  return lstat(resolve(host_path));
}

std::optional<std::string> HostRoot::read_link(std::string_view host_path) const {
  auto path = local(host_path);
  std::string buf(256, '\0');
  for (;;) {
    ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
      throw SysError("cannot read link '" + path.string() + "'");
    }
    if (static_cast<std::size_t>(n) < buf.size()) {
      buf.resize(n);
      return buf;
    }
    buf.resize(buf.size() * 2);
  }
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
    if (++hops > max_symlink_hops) {
      throw SysError(ELOOP,
                     "cannot resolve '" + std::string(host_path) + "' in '" + root_.string() + "'");
    }
    std::string target = *read_link(join(done));
    done.pop_back();
    if (!target.empty() && target.front() == '/') done.clear();
    auto more = split_path(target);
    pending.insert(pending.begin(), more.begin(), more.end());
  }
  return join(done);
}

std::optional<std::string> HostRoot::read_file(std::string_view host_path,
                                               std::size_t max_bytes) const {
  auto path = local(resolve(host_path));
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw SysError("cannot open '" + path.string() + "'");
  }
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SysError("cannot read '" + path.string() + "'");
    }
    if (n == 0) break;
    out.append(buf, n);
    if (out.size() > max_bytes) {
      throw Error("'" + path.string() + "' is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  return out;
}

std::optional<std::vector<std::string>> HostRoot::list_dir(std::string_view host_path) const {
  return list_local_dir(local(resolve(host_path)));
}

std::optional<std::vector<std::string>> list_local_dir(const std::filesystem::path& path) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(path.c_str()), ::closedir);
  if (!dir) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw SysError("cannot list '" + path.string() + "'");
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(dir.get())) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  if (errno != 0) throw SysError("cannot list '" + path.string() + "'");
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<std::string_view> store_path_name(std::string_view host_path) {
  constexpr std::string_view store = "/nix/store/";
  if (host_path.substr(0, store.size()) != store) return std::nullopt;
  auto rest = host_path.substr(store.size());
  auto name = rest.substr(0, rest.find('/'));
  if (name.empty()) return std::nullopt;
  return name;
}

std::string_view strip_store_hash(std::string_view name) {
  // Nix store hashes are 32 characters of base-32, then '-'.
  if (name.size() > 33 && name[32] == '-') return name.substr(33);
  return name;
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
