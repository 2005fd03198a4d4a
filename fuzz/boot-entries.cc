// grub.cfg and the names of systemd-boot entry files (/boot is written by other tools too).
#include "exporter/host/boot-entries.hh"

#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)nixmon::exporter::count_grub_entries(text);
  std::vector<std::string> names;
  for (size_t start = 0; start <= text.size();) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    names.emplace_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  if (nixmon::exporter::count_systemd_boot_entries(names) > names.size()) __builtin_trap();
  return 0;
}
