// The Authorization header of any HTTP client that reaches the port.
#include <string_view>

#include "common/basic-auth.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto c = nixmon::parse_basic_authorization(text);
  if (c && c->first.find(':') != std::string::npos) __builtin_trap();
  auto d = nixmon::decode_base64(text);
  if (d && d->size() > text.size()) __builtin_trap();
  return 0;
}
