// `nix flake metadata --json` output, flake.lock files, and NATS share messages (sent by other
// hosts of the fleet, so outside input twice over).
#include "exporter/flake/flake-metadata.hh"

#include <string>
#include <string_view>

#include "common/error.hh"
#include "common/exposition.hh"
#include "common/json-writer.hh"
#include "common/utf8.hh"
#include "exporter/flake/share-message.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace nixmon::exporter;
  try {
    (void)parse_flake_metadata(text);
  } catch (const nixmon::Error&) {
  }
  try {
    (void)parse_flake_lock(text);
  } catch (const nixmon::Error&) {
  }
  try {
    ShareMessage m = decode_share_message(text);
    // What we accept, we can send on, and it reads back the same.
    ShareMessage again = decode_share_message(encode_share_message(m));
    if (again.flake_url != m.flake_url || !(again.metadata == m.metadata)) __builtin_trap();
  } catch (const nixmon::Error&) {
  }
  // Any bytes become a valid JSON string (the NATS message carries such text).
  std::string quoted;
  nixmon::append_json_string(quoted, text);
  if (quoted.size() < 2 || quoted.front() != '"' || quoted.back() != '"') __builtin_trap();
  if (nixmon::repair_utf8(quoted) != quoted) __builtin_trap();  // valid UTF-8
  for (char c : quoted)
    if (static_cast<unsigned char>(c) < 0x20) __builtin_trap();  // control bytes escaped
  return 0;
}
