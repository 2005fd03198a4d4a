// The nixos-version script (JSON embedded in a shell script in the store) and kernel store paths.
#include <string_view>

#include "exporter/host/system-files.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto v = nixmon::exporter::parse_nixos_version_script(text);
  (void)v;
  auto k = nixmon::exporter::kernel_version_from_path(text);
  (void)k;
  return 0;
}
