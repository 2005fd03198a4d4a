#pragma once
// One record of Nix's structured log stream (`--log-format internal-json` / `json-log-path`), as
// described in Nix's libutil logging.hh. A record is one JSON object on one line.
//
// Parsing never throws for bad input: it returns the reason, which the caller counts.
// Thread-safety: a LogRecordParser is used by one thread; the views in a LogRecord point into the
// parser's buffers and the line, valid until the next parse() on the same parser.
#include <simdjson.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace nixmon::nod {

enum class Action { start, stop, result, msg, unknown };
// Their names in `nod status` and /metrics, in Action order.
inline constexpr std::array<std::string_view, 5> action_names = {"start", "stop", "result", "msg",
                                                                 "unknown"};

// A position in `fields`: Nix mixes integers and strings; anything else is kept as absent.
using Field = std::variant<std::monostate, int64_t, std::string_view>;

struct LogRecord {
  Action action = Action::unknown;
  std::string_view action_name;    // as sent, for unknown actions
  uint64_t id = 0;                 // start, stop, result
  std::optional<uint64_t> parent;  // absent before Nix 2.18
  int64_t type = 0;                // activity type (start) or result type (result)
  int64_t level = 0;
  std::string_view text;  // start
  std::vector<Field> fields;
  bool has_payload = false;                 // Determinate Nix: "payload" instead of "fields"
  std::string_view payload;                 // that payload, as minified JSON text
  std::string_view msg;                     // msg
  std::string_view raw_msg;                 // msg (errors)
  std::optional<std::string_view> machine;  // proposed top-level key, parsed when present

  std::optional<int64_t> int_field(size_t i) const;
  std::optional<std::string_view> string_field(size_t i) const;
};

// Why a line was not a record. The names are what the status counters and docs show.
enum class Malformed {
  not_json,       // not a JSON object at all (garbage, truncated)
  missing_key,    // a known action without a key it needs (id, type, msg)
  wrong_type,     // a key with a value of the wrong JSON type
  line_too_long,  // longer than the configured limit; skipped without buffering
  empty,          // blank line (a writer's stray newline)
};
std::string_view malformed_name(Malformed m);
inline constexpr size_t malformed_count = 5;

class LogRecordParser {
 public:
  LogRecordParser();

  // Parses one line without its newline and without the "@nix " prefix. `capacity` is how many
  // bytes from line.data() are readable: with SIMDJSON_PADDING of them past the line's end (see
  // padded_capacity; the contents there do not matter) the line is parsed in place, otherwise it
  // is copied first. Returns the record or the reason it is malformed. `repaired_utf8` is set when
  // the line held invalid UTF-8 that was replaced by U+FFFD before parsing (Nix itself does this).
  std::variant<LogRecord, Malformed> parse(std::string_view line, size_t capacity,
                                           bool* repaired_utf8 = nullptr);
  // The hot shapes (log lines, progress, stops) are read without simdjson's DOM unless this is
  // off; tests turn it off to check both paths agree.
  void set_fast_path(bool on) { fast_path_ = on; }

  // Convenience for tests and cold paths: copies the line into a padded buffer.
  std::variant<LogRecord, Malformed> parse_copy(std::string_view line,
                                                bool* repaired_utf8 = nullptr);

 private:
  // `data` is readable for SIMDJSON_PADDING bytes past `len` (parse checked it).
  std::variant<LogRecord, Malformed> parse_padded(const char* data, size_t len);
  simdjson::dom::parser parser_;
  std::string scratch_;    // a repaired line
  std::string copy_;       // parse_copy's line
  std::string payload_;    // the last record's payload, minified
  std::string known_sid_;  // the last Determinate Nix session id seen (the fast path's)
  bool fast_path_ = true;
};

// Removes ANSI escape sequences (Nix colours its messages).
std::string strip_ansi(std::string_view s);

}  // namespace nixmon::nod
