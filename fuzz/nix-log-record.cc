// One record of Nix's JSON log stream, as any local process that reaches nod's socket can write
// it. Differential: the fast path (no DOM) and simdjson's DOM must agree on every line (the
// fast path accepts nothing the DOM rejects, and reads the same ids, types and fields).
#include <cstring>
#include <string>
#include <string_view>
#include <variant>

#include "common/store-path.hh"
#include "common/utf8.hh"
#include "ingest/log-record.hh"

using namespace nixmon::nod;

namespace {

bool same(const std::variant<LogRecord, Malformed>& a,
          const std::variant<LogRecord, Malformed>& b) {
  if (a.index() != b.index()) return false;
  if (auto* m = std::get_if<Malformed>(&a)) return *m == std::get<Malformed>(b);
  const auto& x = std::get<LogRecord>(a);
  const auto& y = std::get<LogRecord>(b);
  if (x.action != y.action || x.id != y.id || x.type != y.type || x.level != y.level ||
      x.parent != y.parent || x.text != y.text || x.msg != y.msg ||
      x.fields.size() != y.fields.size())
    return false;
  // Build log lines (result 101, 107) are only counted by nod, so the fast path does not decode
  // their text (log-record.cc): there, only the shape must agree.
  bool log_line = x.action == Action::result && (x.type == 101 || x.type == 107);
  for (size_t i = 0; i < x.fields.size(); ++i) {
    if (log_line) {
      if (x.fields[i].index() != y.fields[i].index()) return false;
    } else if (x.fields[i] != y.fields[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  static LogRecordParser fast, slow;
  slow.set_fast_path(false);
  auto a = fast.parse_copy(line);
  auto b = slow.parse_copy(line);
  if (!same(a, b)) __builtin_trap();
  (void)nixmon::repair_utf8(line);
  (void)strip_ansi(line);
  (void)nixmon::display_name(line);
  return 0;
}
