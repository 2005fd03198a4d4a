#include "exporter/boot-entries.hh"

namespace nixmon::exporter {

std::size_t count_systemd_boot_entries(const std::vector<std::string>& names) {
  std::size_t n = 0;
  for (std::string_view name : names) {
    if (name.size() > 11 && name.substr(0, 6) == "nixos-" &&
        name.substr(name.size() - 5) == ".conf")
      ++n;
  }
  return n;
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
