#include "exporter/store/gc-roots.hh"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "common/error.hh"
#include "common/store-path.hh"
#include "exporter/store/store-db.hh"

namespace nixmon::exporter {

namespace {

constexpr std::string_view gcroots_dir = "/nix/var/nix/gcroots";
constexpr std::string_view gcroots_auto_dir = "/nix/var/nix/gcroots/auto";
constexpr std::string_view profiles_dir = "/nix/var/nix/profiles";

// Failures Nix's findRoots treats as "no root here" rather than as an error.
bool permanent(const SysError& e) {
  int n = e.error_number();
  return n == EACCES || n == ENOENT || n == ENOTDIR || n == ELOOP;
}

// What reading another process's /proc entries fails with in the ordinary course: the process
// exited (ESRCH; ENOENT is already "absent" to HostRoot) or belongs to another user (EACCES,
// EPERM). Anything else (EIO, EMFILE, ENOMEM) is this exporter's or the system's trouble, and a
// root count that silently skipped it would be wrong: it fails the computation instead.
bool process_gone_or_private(const SysError& e) {
  return e.is(ESRCH) || e.is(EACCES) || e.is(EPERM);
}

bool is_in_store(std::string_view p) {
  return store_entry_of(p, nix_store_dir).has_value();
}

// "/nix/store/abc-foo/bin/x" -> "/nix/store/abc-foo"; only for paths is_in_store accepts.
std::string to_store_path(std::string_view p) {
  return std::string(nix_store_dir) + "/" + std::string(*store_entry_of(p, nix_store_dir));
}

bool under(std::string_view path, std::string_view dir) {
  return path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/';
}

std::string dir_of(std::string_view p) {
  auto slash = p.rfind('/');
  return slash == 0 || slash == std::string_view::npos ? "/" : std::string(p.substr(0, slash));
}

// An absolute, lexically normal host path for a link target read at `link`; a physical path
// under the root directory (what a chroot store writes) is mapped back to the host path.
std::string host_target(const HostRoot& root, std::string_view link, std::string_view target) {
  namespace fs = std::filesystem;
  fs::path t(target);
  if (t.is_relative()) t = fs::path(dir_of(link)) / t;
  std::string s = t.lexically_normal().string();
  if (s.size() > 1 && s.back() == '/') s.pop_back();
  std::string physical = fs::absolute(root.root()).lexically_normal().string();
  while (physical.size() > 1 && physical.back() == '/') physical.pop_back();
  if (physical != "/" && under(s, physical)) s = s.substr(physical.size());
  return s;
}

class RootFinder {
 public:
  RootFinder(const HostRoot& root, UnreadableRoots* unreadable)
      : root_(root), unreadable_(unreadable) {}

  // As Nix's findRoots: lstat, so a link to a directory (gcroots/profiles) is never descended.
  void walk(const std::string& path, RootSource source) {
    try {
      auto st = root_.lstat(path);
      if (!st) return;
      if (S_ISDIR(st->st_mode)) {
        auto names = root_.list_dir(path);
        if (!names) return;
        for (const auto& n : *names) {
          std::string child = path + "/" + n;
          walk(child, under(child, gcroots_auto_dir) ? RootSource::gcroots_auto : source);
        }
      } else if (S_ISLNK(st->st_mode)) {
        link(path, source);
      } else if (S_ISREG(st->st_mode)) {
        // A file named after a store path roots it (how Nix records some roots without a link).
        auto slash = path.rfind('/');
        std::string candidate = std::string(nix_store_dir) + "/" + path.substr(slash + 1);
        add(path, candidate, source);
      }
    } catch (const SysError& e) {
      if (!permanent(e)) throw;
      // Nix (as root) reads what this process may not: a root it cannot see is counted, so that
      // a reclaimable figure that may be too large says so.
      int n = e.error_number();
      if (unreadable_ && (n == EACCES || n == ELOOP))
        ++(*unreadable_)[static_cast<std::size_t>(source)];
    }
  }

  std::vector<GcRoot> take() { return std::move(roots_); }

 private:
  void link(const std::string& path, RootSource source) {
    auto target = root_.read_link(path);
    if (!target) return;
    if (is_in_store(*target)) {
      add(path, to_store_path(*target), source);
      return;
    }
    // An indirect root: the link names another link (e.g. a `result` link) that points into the
    // store. Only that one level is followed, as Nix does.
    std::string indirect = host_target(root_, path, *target);
    if (indirect == "/") return;
    auto slash = indirect.rfind('/');
    std::string parent = root_.resolve(indirect.substr(0, slash));
    std::string at = (parent == "/" ? "" : parent) + indirect.substr(slash);
    auto st = root_.lstat(at);
    if (!st || !S_ISLNK(st->st_mode)) return;
    auto target2 = root_.read_link(at);
    if (target2 && is_in_store(*target2)) add(indirect, to_store_path(*target2), source);
  }

  void add(const std::string& link, std::string store_path, RootSource source) {
    if (!seen_.insert(link).second) return;
    roots_.push_back({link, std::move(store_path), source});
  }

  const HostRoot& root_;
  UnreadableRoots* unreadable_;
  std::set<std::string> seen_;
  std::vector<GcRoot> roots_;
};

bool is_hash_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
}

bool is_name_char(char c) {
  return is_hash_char(c) || (c >= 'A' && c <= 'Z') || c == '+' || c == '-' || c == '.' ||
         c == '_' || c == '?' || c == '=';
}

}  // namespace

std::string_view to_string(RootSource source) {
  switch (source) {
    case RootSource::profiles:
      return "profiles";
    case RootSource::gcroots:
      return "gcroots";
    case RootSource::gcroots_auto:
      return "gcroots_auto";
    case RootSource::runtime:
      return "runtime";
  }
  return "unknown";
}

std::vector<GcRoot> find_gc_roots(const HostRoot& root, UnreadableRoots* unreadable) {
  RootFinder finder(root, unreadable);
  // Profiles first, so a generation link that gcroots/auto also names counts as a profile root.
  finder.walk(std::string(profiles_dir), RootSource::profiles);
  finder.walk(std::string(gcroots_dir), RootSource::gcroots);
  return finder.take();
}

std::vector<std::string> store_paths_in(std::string_view text) {
  std::vector<std::string> out;
  std::string prefix = std::string(nix_store_dir) + "/";
  std::size_t pos = 0;
  while ((pos = text.find(prefix, pos)) != std::string_view::npos) {
    std::size_t i = pos + prefix.size();
    std::size_t start = i;
    while (i < text.size() && is_hash_char(text[i])) ++i;
    if (i == start) {
      pos = i;
      continue;
    }
    while (i < text.size() && is_name_char(text[i])) ++i;
    out.push_back(std::string(text.substr(pos, i - pos)));
    pos = i;
  }
  return out;
}

std::vector<GcRoot> find_runtime_roots(const HostRoot& root) {
  std::set<std::pair<std::string, std::string>> seen;
  std::vector<GcRoot> out;
  auto add = [&](const std::string& where, std::string_view found) {
    if (!is_in_store(found)) return;
    std::string sp = to_store_path(found);
    if (seen.emplace(where, sp).second) out.push_back({where, sp, RootSource::runtime});
  };
  auto names = root.list_dir("/proc");
  if (!names) return out;
  for (const auto& pid : *names) {
    if (pid.empty() ||
        !std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    std::string dir = "/proc/" + pid;
    // Every read may fail because the process exited or belongs to another user: skip that part.
    for (const char* entry : {"exe", "cwd"}) {
      try {
        if (auto t = root.read_link(dir + "/" + entry)) add(dir + "/" + entry, *t);
      } catch (const SysError& e) {
        if (!process_gone_or_private(e)) throw;
      }
    }
    try {
      if (auto fds = root.list_dir(dir + "/fd")) {
        for (const auto& fd : *fds) {
          std::string p = dir + "/fd/" + fd;
          if (auto t = root.read_link(p)) add(p, *t);
        }
      }
    } catch (const SysError& e) {
      if (!process_gone_or_private(e)) throw;
    }
    for (const char* entry : {"maps", "environ"}) {
      try {
        if (auto text = root.read_file(dir + "/" + entry, 64 << 20)) {
          for (const auto& p : store_paths_in(*text)) add(dir + "/" + entry, p);
        }
      } catch (const SysError& e) {
        if (!process_gone_or_private(e)) throw;
      } catch (const Error&) {
        // Larger than 64 MiB: no process's map or environment is; skipped like an unreadable one.
      }
    }
  }
  for (const char* f : {"/proc/sys/kernel/modprobe", "/proc/sys/kernel/fbsplash",
                        "/proc/sys/kernel/poweroff_cmd"}) {
    try {
      if (auto text = root.read_file(f)) {
        for (const auto& p : store_paths_in(*text)) add(f, p);
      }
    } catch (const SysError& e) {
      if (!e.is(EACCES) && !e.is(EPERM)) throw;  // hidden from this user (a container): no root
    }
  }
  return out;
}

}  // namespace nixmon::exporter
