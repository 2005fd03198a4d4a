#include "exporter/host/boot-entries.hh"

#include <algorithm>

namespace nixmon::exporter {

bool is_nixos_systemd_boot_entry(std::string_view name) {
  return name.size() > 11 && name.substr(0, 6) == "nixos-" &&
         name.substr(name.size() - 5) == ".conf";
}

std::size_t count_systemd_boot_entries(const std::vector<std::string>& names) {
  return static_cast<std::size_t>(std::count_if(names.begin(), names.end(), [](std::string_view n) {
    return is_nixos_systemd_boot_entry(n);
  }));
}

std::size_t count_grub_entries(std::string_view cfg) {
  std::size_t n = 0, pos = 0;
  while (pos < cfg.size()) {
    auto end = cfg.find('\n', pos);
    if (end == std::string_view::npos) end = cfg.size();
    auto line = cfg.substr(pos, end - pos);
    pos = end + 1;
    auto b = line.find_first_not_of(" \t");
    if (b == std::string_view::npos) continue;
    line = line.substr(b);
    if (line.substr(0, 9) == "menuentry" && line.size() > 9 && (line[9] == ' ' || line[9] == '\t'))
      ++n;
  }
  return n;
}

}  // namespace nixmon::exporter

namespace nixmon::exporter {

namespace {

std::vector<std::string_view> split_ws(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos < s.size()) {
    auto b = s.find_first_not_of(" \t\r", pos);
    if (b == std::string_view::npos) break;
    auto e = s.find_first_of(" \t\r", b);
    if (e == std::string_view::npos) e = s.size();
    out.push_back(s.substr(b, e - b));
    pos = e;
  }
  return out;
}

template <typename F>
void for_each_line(std::string_view text, F f) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    f(text.substr(pos, end - pos));
    pos = end + 1;
  }
}

// "<32 characters of Nix's base-32>-<name>": a store object's name, as Nix makes them.
bool is_store_object_name(std::string_view c) {
  constexpr std::string_view base32 = "0123456789abcdfghijklmnpqrsvwxyz";
  if (c.size() < 34 || c[32] != '-') return false;
  return std::all_of(c.begin(), c.begin() + 32,
                     [&](char ch) { return base32.find(ch) != std::string_view::npos; });
}

std::string join(const std::vector<std::string_view>& parts, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < parts.size(); ++i) {
    out += '/';
    out += parts[i];
  }
  return out;
}

// `init=/nix/store/<system>/init` among kernel parameters; nullopt when absent or elsewhere.
std::optional<std::string> init_param(const std::vector<std::string_view>& params) {
  for (auto p : params) {
    if (p.substr(0, 5) != "init=") continue;
    auto path = p.substr(5);
    if (path.substr(0, 11) == "/nix/store/") return std::string(path);
    return std::nullopt;
  }
  return std::nullopt;
}

// Maps a file reference of install-grub.pl's copyToKernelsDir to a host path. Two forms:
//  - not copied: the store file's path relative to the filesystem holding the store, after an
//    optional GRUB drive `($driveN)` and a btrfs subvolume or ZFS `/@` prefix, e.g.
//    `/nix/store/<hash>-linux-6.6.30/bzImage`, `($drive2)/store/<hash>-linux-6.6.30/bzImage`
//    -> /nix/store/<hash>-linux-6.6.30/bzImage (the store object is found by its name's shape);
//  - copied: `<boot path>/kernels/<hash>-linux-6.6.30-bzImage` (the store path with '/' made '-')
//    -> <boot_dir>/kernels/<hash>-linux-6.6.30-bzImage.
std::optional<std::string> map_grub_path(std::string_view ref, std::string_view boot_dir) {
  if (!ref.empty() && ref.front() == '(') {
    auto close = ref.find(')');
    if (close == std::string_view::npos) return std::nullopt;
    ref = ref.substr(close + 1);
  }
  std::vector<std::string_view> parts;
  std::size_t pos = 0;
  while (pos <= ref.size()) {
    auto slash = ref.find('/', pos);
    if (slash == std::string_view::npos) slash = ref.size();
    if (slash > pos) parts.push_back(ref.substr(pos, slash - pos));
    pos = slash + 1;
  }
  if (parts.empty()) return std::nullopt;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    if (is_store_object_name(parts[i])) return "/nix/store" + join(parts, i);
  }
  if (parts.size() >= 2 && parts[parts.size() - 2] == "kernels")
    return std::string(boot_dir) + "/kernels/" + std::string(parts.back());
  return std::nullopt;
}

void finish(BootEntryFiles& e) {
  if (!e.kernel || e.initrds.empty() || !e.init) e.unchecked = true;
}

}  // namespace

BootEntryFiles parse_systemd_boot_entry(std::string_view conf, std::string_view boot_dir) {
  BootEntryFiles e;
  // Paths in an entry are relative to the root of the partition that holds it (the Boot Loader
  // Specification); systemd-boot-builder.py writes them with a leading '/'.
  auto on_partition = [&](std::string_view path) {
    std::string out(boot_dir);
    if (path.empty() || path.front() != '/') out += '/';
    out += path;
    return out;
  };
  for_each_line(conf, [&](std::string_view line) {
    auto words = split_ws(line);
    if (words.size() < 2) return;
    if (words[0] == "linux") {
      e.kernel = on_partition(words[1]);
    } else if (words[0] == "initrd") {
      for (std::size_t i = 1; i < words.size(); ++i) e.initrds.push_back(on_partition(words[i]));
    } else if (words[0] == "options") {
      if (!e.init) e.init = init_param(words);
    }
  });
  finish(e);
  return e;
}

std::vector<BootEntryFiles> parse_grub_entries(std::string_view cfg, std::string_view boot_dir) {
  std::vector<BootEntryFiles> out;
  bool in_entry = false;
  for_each_line(cfg, [&](std::string_view line) {
    auto words = split_ws(line);
    if (words.empty()) return;
    if (words[0] == "menuentry") {
      out.emplace_back();
      in_entry = true;
      return;
    }
    if (!in_entry) return;
    BootEntryFiles& e = out.back();
    if (words[0] == "}") {
      in_entry = false;
    } else if (words[0] == "linux" && words.size() >= 2) {
      e.kernel = map_grub_path(words[1], boot_dir);
      if (!e.kernel) e.unchecked = true;
      e.init = init_param(words);
    } else if (words[0] == "initrd") {
      for (std::size_t i = 1; i < words.size(); ++i) {
        if (auto p = map_grub_path(words[i], boot_dir))
          e.initrds.push_back(*p);
        else
          e.unchecked = true;
      }
    }
  });
  for (auto& e : out) finish(e);
  return out;
}

}  // namespace nixmon::exporter
