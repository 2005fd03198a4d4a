// --listen / --metrics.listen values (from NixOS module options, people, scripts).
#include <string_view>

#include "common/error.hh"
#include "common/http-server.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto a = nixmon::parse_listen_address(text);
    if (a.port < 0 || a.port > 65535) __builtin_trap();
  } catch (const nixmon::UsageError&) {
  }
  return 0;
}
