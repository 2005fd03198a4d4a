#include "exporter/host/process-code.hh"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <unordered_set>

#include "common/error.hh"
#include "common/fd.hh"
#include "common/store-path.hh"

namespace nixmon::exporter {

namespace {

constexpr std::string_view deleted_suffix = " (deleted)";

// Unit types that own a control group with processes in it (systemd.unit(5) lists the types;
// targets, devices, timers, paths and automounts never run processes; slices only group).
constexpr std::string_view unit_suffixes[] = {".service", ".scope", ".socket", ".mount", ".swap"};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_unit_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
         c == '_' || c == '.' || c == '-' || c == '\\' || c == '@';
}

// The cgroup path of one hierarchy line "<id>:<controllers>:<path>"; nullopt for another line.
std::optional<std::string_view> cgroup_path(std::string_view text, std::string_view prefix) {
  while (!text.empty()) {
    auto nl = text.find('\n');
    auto line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.substr(0, prefix.size()) == prefix) return line.substr(prefix.size());
  }
  return std::nullopt;
}

enum class Read { ok, missing, denied };

Read classify(int err) {
  if (err == EACCES || err == EPERM) return Read::denied;
  // ENOENT/ESRCH: the process exited; ENOTDIR: not a process directory.
  return Read::missing;
}

Read read_link(const std::filesystem::path& p, std::string& out) {
  char buf[4096];
  ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
  if (n < 0) return classify(errno);
  out.assign(buf, static_cast<std::size_t>(n));
  return Read::ok;
}

// /proc files report size 0: read to the end. maps of a large process is a few hundred KiB.
Read read_all(const std::filesystem::path& p, std::string& out) {
  Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return classify(errno);
  out.clear();
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return classify(errno);
    }
    if (n == 0) return Read::ok;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

std::string_view next_field(std::string_view& line) {
  auto start = line.find_first_not_of(' ');
  if (start == std::string_view::npos) {
    line = {};
    return {};
  }
  line.remove_prefix(start);
  auto end = line.find(' ');
  auto field = line.substr(0, end);
  line = end == std::string_view::npos ? std::string_view() : line.substr(end);
  return field;
}

}  // namespace

bool is_unit_name(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  if (!std::all_of(name.begin(), name.end(), is_unit_char)) return false;
  if (std::count(name.begin(), name.end(), '@') > 1 || name.front() == '.' || name.front() == '@')
    return false;
  for (auto suffix : unit_suffixes) {
    if (ends_with(name, suffix) && name.size() > suffix.size()) return true;
  }
  return false;
}

std::optional<std::string> unit_of_cgroup(std::string_view text) {
  auto path = cgroup_path(text, "0::");
  // A hybrid host keeps the unified hierarchy beside systemd's own legacy one; on a legacy host
  // only the latter exists. Either way systemd's placement is in "name=systemd".
  if (!path || *path == "/") {
    std::string_view rest = text;
    while (!rest.empty()) {
      auto nl = rest.find('\n');
      auto line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      auto c1 = line.find(':');
      if (c1 == std::string_view::npos) continue;
      auto c2 = line.find(':', c1 + 1);
      if (c2 == std::string_view::npos) continue;
      if (line.substr(c1 + 1, c2 - c1 - 1) == "name=systemd") {
        path = line.substr(c2 + 1);
        break;
      }
    }
  }
  if (!path) return std::nullopt;
  std::string_view p = *path;
  while (!p.empty()) {
    while (!p.empty() && p.front() == '/') p.remove_prefix(1);
    auto component = p.substr(0, p.find('/'));
    p.remove_prefix(component.size());
    if (component.empty()) break;
    if (ends_with(component, ".slice")) continue;
    if (is_unit_name(component)) return std::string(component);
    return std::nullopt;
  }
  return std::nullopt;
}

std::vector<std::string> store_names_in_maps(
    std::string_view maps, const std::function<std::string(std::string_view)>& host_path) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  std::string last_pathname;  // consecutive mappings of one file are the common case
  while (!maps.empty()) {
    auto nl = maps.find('\n');
    auto line = maps.substr(0, nl);
    maps = nl == std::string_view::npos ? std::string_view() : maps.substr(nl + 1);
    // address perms offset dev inode pathname
    for (int i = 0; i < 5; ++i) next_field(line);
    auto start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) continue;  // anonymous mapping
    auto pathname = line.substr(start);
    if (pathname.front() != '/') continue;  // [heap], [stack], [vdso], ...
    if (pathname == last_pathname) continue;
    last_pathname.assign(pathname);
    auto host = host_path(pathname);
    auto name = store_entry_of(host);
    if (name && seen.emplace(*name).second) out.emplace_back(*name);
  }
  return out;
}

std::string physical_root(const HostRoot& root) {
  std::string physical = std::filesystem::absolute(root.root()).lexically_normal().string();
  while (physical.size() > 1 && physical.back() == '/') physical.pop_back();
  return physical;
}

std::string proc_host_path(std::string_view physical, std::string_view kernel_path) {
  std::string s(kernel_path);
  if (ends_with(s, deleted_suffix)) s.resize(s.size() - deleted_suffix.size());
  if (physical != "/" && s.size() > physical.size() &&
      s.compare(0, physical.size(), physical) == 0 && s[physical.size()] == '/')
    s.erase(0, physical.size());
  return s;
}

std::optional<std::vector<ProcessCode>> read_process_code(const HostRoot& root) {
  auto proc = root.local("/proc");
  auto names = list_local_dir(proc);
  if (!names) return std::nullopt;
  std::vector<std::string> pids;
  for (auto& n : *names)
    if (std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; }))
      pids.push_back(std::move(n));
  std::sort(pids.begin(), pids.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() < b.size() : a < b;
  });

  std::string physical = physical_root(root);
  auto to_host = [&](std::string_view p) { return proc_host_path(physical, p); };
  std::vector<ProcessCode> out;
  std::string exe, maps, cgroup;
  for (auto& pid : pids) {
    auto dir_path = proc / pid;
    ProcessCode pc;
    pc.pid = pid;
    Read r = read_link(dir_path / "exe", exe);
    if (r == Read::missing) continue;  // kernel thread, zombie or gone
    // The cgroup file is readable by everyone; its absence means the process is gone.
    if (read_all(dir_path / "cgroup", cgroup) != Read::ok) continue;
    pc.unit = unit_of_cgroup(cgroup);
    if (r == Read::ok) r = read_all(dir_path / "maps", maps);
    if (r == Read::missing) continue;
    if (r == Read::denied) {
      pc.state = ProcessCode::State::denied;
      out.push_back(std::move(pc));
      continue;
    }
    std::string exe_host = to_host(exe);
    if (auto name = store_entry_of(exe_host)) pc.store_names.emplace_back(*name);
    for (auto& n : store_names_in_maps(maps, to_host)) {
      if (pc.store_names.empty() || n != pc.store_names.front())
        pc.store_names.push_back(std::move(n));
    }
    out.push_back(std::move(pc));
  }
  return out;
}

}  // namespace nixmon::exporter
