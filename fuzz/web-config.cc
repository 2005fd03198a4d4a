// --web.config.file contents (YAML via libyaml, then the toolkit's schema).
#include "common/web-config.hh"

#include <string_view>

#include "common/error.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto c = nixmon::parse_web_config(text, "/etc/nixmon");
    (void)c;
  } catch (const nixmon::Error&) {
  }
  return 0;
}
