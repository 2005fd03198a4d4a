// Go durations (--scrape.timeout, --flake.check-interval, ...). Property: what parses formats to
// a spelling that parses back to the same value.
#include "common/duration.hh"

#include <string_view>

#include "common/error.hh"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto d = nixmon::parse_duration(text);
    if (d.count() < 0) __builtin_trap();
    if (nixmon::parse_duration(nixmon::format_duration(d)) != d) __builtin_trap();
  } catch (const nixmon::UsageError&) {
  }
  return 0;
}
