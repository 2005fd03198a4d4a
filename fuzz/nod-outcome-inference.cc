// Outcome inference on whatever a writer can put in a message or a payload: a builder's `@nix`
// line reaches the stream as a message, any local process can write records. The first byte picks
// the reading; the rest is the text. Nothing may crash, and every answer must be consistent.
#include <string_view>

#include "ingest/log-record.hh"
#include "tracking/outcome-inference.hh"

using namespace nixmon::nod;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t pick = data[0];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (pick % 4) {
    case 0:
    case 1:
      if (auto m = classify_message(strip_ansi(text), pick % 2 == 0)) {
        // A derivation, when named, is a quoted part of the text: never longer than it.
        if (m->drv_path.size() > text.size() || m->machine.size() > text.size()) __builtin_trap();
        if (m->kind == FailureKind::remote && m->drv_path.empty()) __builtin_trap();
      }
      break;
    case 2:
      if (auto p = parse_build_result(text)) {
        if (p->status.empty()) __builtin_trap();
        (void)build_status_meaning(p->status);
      }
      (void)parse_hash_mismatch(text);
      break;
    case 3: {
      std::string n = normalise_cache_uri(text);
      if (n.size() > text.size() || normalise_cache_uri(n) != n) __builtin_trap();
      if (text.size() >= 32) {
        Progress a{data[1], data[2], data[3], data[4]}, b{data[5], data[6], data[7], data[8]};
        auto s = progress_step(a, b);
        if (s.ended_ok < 0 || s.ended_failed < 0 || s.failed_unstarted < 0) __builtin_trap();
      }
      break;
    }
  }
  return 0;
}
