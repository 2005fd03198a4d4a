#include "ingest/log-record.hh"

#include <cctype>
#include <charconv>
#include <cstring>

#include "common/utf8.hh"

namespace nixmon::nod {

namespace dom = simdjson::dom;

std::optional<int64_t> LogRecord::int_field(size_t i) const {
  if (i >= fields.size()) return std::nullopt;
  if (auto* v = std::get_if<int64_t>(&fields[i])) return *v;
  return std::nullopt;
}

std::optional<std::string_view> LogRecord::string_field(size_t i) const {
  if (i >= fields.size()) return std::nullopt;
  if (auto* v = std::get_if<std::string_view>(&fields[i])) return *v;
  return std::nullopt;
}

std::string_view malformed_name(Malformed m) {
  switch (m) {
    case Malformed::not_json:
      return "not-json";
    case Malformed::missing_key:
      return "missing-key";
    case Malformed::wrong_type:
      return "wrong-type";
    case Malformed::line_too_long:
      return "line-too-long";
    case Malformed::empty:
      return "empty";
  }
  return "unknown";
}

LogRecordParser::LogRecordParser() = default;

namespace {

// Thrown inside parse_padded only, turned into a Malformed before it leaves this file.
struct Bad {
  Malformed why;
};

template <typename T>
T get(simdjson::simdjson_result<T> r) {
  T v;
  if (auto err = std::move(r).get(v)) {
    throw Bad{err == simdjson::INCORRECT_TYPE || err == simdjson::NUMBER_OUT_OF_RANGE
                  ? Malformed::wrong_type
                  : Malformed::not_json};
  }
  return v;
}

Action action_of(std::string_view a) {
  if (a == "result") return Action::result;
  if (a == "start") return Action::start;
  if (a == "stop") return Action::stop;
  if (a == "msg") return Action::msg;
  return Action::unknown;
}

// A string-or-null key ("file" on msg is null when unknown): only strings are kept.
std::string_view string_or_empty(dom::element v) {
  std::string_view s;
  if (v.get_string().get(s)) return {};
  return s;
}

// Nix writes its records with sorted keys and no spaces, and almost all of a busy stream is build
// log lines, progress results and stops (with Determinate Nix's "sid" or without). Those exact
// shapes are read here without building a DOM; anything else (or anything unexpected in them) goes
// to simdjson. Only used when the line is valid UTF-8, so repairs and counters stay the DOM path's.
bool parse_digits_backwards(std::string_view l, size_t& end, uint64_t& value) {
  size_t start = end;
  while (start > 0 && l[start - 1] >= '0' && l[start - 1] <= '9') --start;
  if (start == end || end - start > 20) return false;
  if (l[start] == '0' && end - start > 1) return false;  // JSON has no leading zeros (fuzzing)
  auto [p, ec] = std::from_chars(l.data() + start, l.data() + end, value);
  if (ec != std::errc() || p != l.data() + end) return false;
  end = start;
  return true;
}

bool eat_backwards(std::string_view l, size_t& end, std::string_view token) {
  if (end < token.size() || l.substr(end - token.size(), token.size()) != token) return false;
  end -= token.size();
  return true;
}

// The inside of a JSON string literal: no raw quote or control byte, every escape valid.
bool plain_json_string(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c < 0x20) return false;
    if (c != '\\') continue;
    if (++i == s.size()) return false;
    switch (s[i]) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't':
        break;
      case 'u':
        if (i + 4 >= s.size()) return false;
        for (int k = 1; k <= 4; ++k)
          if (!std::isxdigit(static_cast<unsigned char>(s[i + k]))) return false;
        i += 4;
        break;
      default:
        return false;
    }
  }
  return true;
}

// Determinate Nix (3.20 and later) adds "sid", the session id string, to every record; sorted, it
// comes right after "id" in stops and results. Steps `end` back over `,"sid":"..."` if it is
// there; false for a string value that is not a plain sid (the DOM parser decides then).
// `known` is the last sid seen on this connection (one per Nix process): the same bytes again are
// recognised by one comparison instead of a scan.
bool skip_sid_backwards(std::string_view l, size_t& end, std::string& known) {
  static constexpr std::string_view key = R"(,"sid":")";
  if (end < 2 || l[end - 1] != '"') return true;  // no string here: no sid to skip
  size_t whole = key.size() + known.size() + 1;
  if (!known.empty() && end >= whole && l.substr(end - whole, key.size()) == key &&
      l.substr(end - 1 - known.size(), known.size()) == known) {
    end -= whole;
    return true;
  }
  size_t open = l.rfind('"', end - 2);
  if (open == std::string_view::npos || open + 1 < key.size()) return false;
  size_t key_start = open + 1 - key.size();
  if (l.substr(key_start, key.size()) != key) return false;
  std::string_view value = l.substr(open + 1, end - 1 - (open + 1));
  if (value.find('\\') != std::string_view::npos || !plain_json_string(value)) return false;
  known.assign(value);
  end = key_start;
  return true;
}

bool fast_parse(std::string_view l, LogRecord& r, std::string& known_sid) {
  static constexpr std::string_view stop_prefix = R"({"action":"stop","id":)";
  static constexpr std::string_view result_prefix = R"({"action":"result","fields":[)";
  if (l.empty() || l.back() != '}') return false;
  size_t end = l.size() - 1;
  if (l.starts_with(stop_prefix)) {
    uint64_t id;
    if (!skip_sid_backwards(l, end, known_sid) || !parse_digits_backwards(l, end, id) ||
        end != stop_prefix.size())
      return false;
    r.action = Action::stop;
    r.action_name = "stop";
    r.id = id;
    return true;
  }
  if (!l.starts_with(result_prefix)) return false;
  uint64_t type, id;
  if (!parse_digits_backwards(l, end, type) || !eat_backwards(l, end, R"(,"type":)") ||
      !skip_sid_backwards(l, end, known_sid) || !parse_digits_backwards(l, end, id) ||
      !eat_backwards(l, end, R"(],"id":)"))
    return false;
  std::string_view fields = l.substr(result_prefix.size(), end - result_prefix.size());
  if (type == 101 || type == 107) {
    // One string, the log line: only counted, so its text is not decoded.
    if (fields.size() < 2 || fields.front() != '"' || fields.back() != '"') return false;
    size_t backslashes = 0;
    for (size_t i = fields.size() - 2; i > 0 && fields[i] == '\\'; --i) ++backslashes;
    if (backslashes % 2) return false;  // the closing quote is escaped: not what it seems
    if (fields.find(R"(",")") != std::string_view::npos)
      return false;  // perhaps more than one string: let the DOM parser decide
    // Accept only a well-formed JSON string: an unescaped quote, a control byte or a bad escape
    // inside means the line is not what the backwards scan assumed (fuzzing found a garbage line
    // that was counted as a log line here while simdjson called it not-json).
    if (!plain_json_string(fields.substr(1, fields.size() - 2))) return false;
    r.fields.emplace_back(std::string_view{});
  } else if (type == 105 || type == 106) {
    // Integers only (progress, setExpected).
    size_t i = 0;
    while (i < fields.size()) {
      int64_t n;
      // JSON has no leading zeros ("01", "-01"): leave such lines to simdjson (found by fuzzing).
      size_t d = i + (fields[i] == '-' ? 1 : 0);
      if (d + 1 < fields.size() && fields[d] == '0' && fields[d + 1] >= '0' && fields[d + 1] <= '9')
        return false;
      auto [p, ec] = std::from_chars(fields.data() + i, fields.data() + fields.size(), n);
      if (ec != std::errc()) return false;
      r.fields.emplace_back(n);
      i = p - fields.data();
      if (i == fields.size()) break;
      if (fields[i] != ',') return false;
      ++i;
      if (i == fields.size()) return false;
    }
  } else {
    return false;
  }
  r.action = Action::result;
  r.action_name = "result";
  r.id = id;
  r.type = static_cast<int64_t>(type);
  return true;
}
}  // namespace

std::variant<LogRecord, Malformed> LogRecordParser::parse_padded(const char* data, size_t len) {
  LogRecord r;
  bool has_id = false, has_type = false, has_msg = false, has_action = false;
  try {
    dom::element root = get(parser_.parse(reinterpret_cast<const uint8_t*>(data), len, false));
    dom::object obj = get(root.get_object());
    for (auto [key, v] : obj) {
      if (key == "action") {
        r.action_name = get(v.get_string());
        r.action = action_of(r.action_name);
        has_action = true;
      } else if (key == "id") {
        r.id = get(v.get_uint64());
        has_id = true;
      } else if (key == "type") {
        r.type = get(v.get_int64());
        has_type = true;
      } else if (key == "fields") {
        dom::array arr = get(v.get_array());
        for (dom::element elem : arr) {
          int64_t n;
          std::string_view str;
          if (!elem.get_int64().get(n)) {
            r.fields.emplace_back(n);
          } else if (!elem.get_string().get(str)) {
            r.fields.emplace_back(str);
          } else {
            r.fields.emplace_back(std::monostate{});  // a float, huge number, null, ...: not ours
          }
        }
      } else if (key == "level") {
        r.level = get(v.get_int64());
      } else if (key == "parent") {
        r.parent = get(v.get_uint64());
      } else if (key == "text") {
        r.text = get(v.get_string());
      } else if (key == "msg") {
        r.msg = get(v.get_string());
        has_msg = true;
      } else if (key == "raw_msg") {
        r.raw_msg = string_or_empty(v);
      } else if (key == "machine") {
        r.machine = string_or_empty(v);
      } else if (key == "payload") {
        r.has_payload = true;
        payload_ = simdjson::minify(v);
        r.payload = payload_;
      }
      // Other keys (line, column, file, trace, future ones) are tolerated and skipped.
    }
  } catch (const Bad& b) {
    return b.why;
  }
  if (!has_action) return Malformed::missing_key;
  switch (r.action) {
    case Action::start:
    case Action::result:
      if (!has_id || !has_type) return Malformed::missing_key;
      break;
    case Action::stop:
      if (!has_id) return Malformed::missing_key;
      break;
    case Action::msg:
      if (!has_msg) return Malformed::missing_key;
      break;
    case Action::unknown:
      break;
  }
  return r;
}

std::variant<LogRecord, Malformed> LogRecordParser::parse(std::string_view line, size_t capacity,
                                                          bool* repaired) {
  if (repaired) *repaired = false;
  // The DOM parser below reads up to SIMDJSON_PADDING bytes past the line (it is told not to copy
  // it): a buffer without them is copied first rather than read past its end.
  if (capacity < line.size() + simdjson::SIMDJSON_PADDING) return parse_copy(line, repaired);
  size_t first = line.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return Malformed::empty;
  if (fast_path_) {
    LogRecord r;
    if (fast_parse(line, r, known_sid_) && simdjson::validate_utf8(line.data(), line.size()))
      return r;
  }
  auto result = parse_padded(line.data(), line.size());
  if (std::holds_alternative<Malformed>(result) &&
      std::get<Malformed>(result) == Malformed::not_json) {
    // simdjson rejects invalid UTF-8 anywhere in the document. Nix never sends it (it replaces
    // bad bytes by U+FFFD), but other writers might: repair and parse again rather than lose the
    // record. validate_utf8 is cheap next to the parse, and only runs on lines that failed.
    if (!simdjson::validate_utf8(line.data(), line.size())) {
      scratch_ = repair_utf8(line);
      size_t n = scratch_.size();
      scratch_.resize(n + simdjson::SIMDJSON_PADDING);
      auto again = parse_padded(scratch_.data(), n);
      // Only a line that became a record counts as repaired; garbage stays garbage.
      if (repaired) *repaired = std::holds_alternative<LogRecord>(again);
      return again;
    }
  }
  return result;
}

std::variant<LogRecord, Malformed> LogRecordParser::parse_copy(std::string_view line,
                                                               bool* repaired) {
  std::string copy(line);
  copy.resize(line.size() + simdjson::SIMDJSON_PADDING);
  // The copy must outlive the returned views: keep it in a member the next parse overwrites.
  copy_ = std::move(copy);
  return parse(std::string_view(copy_.data(), line.size()), copy_.size(), repaired);
}

std::string strip_ansi(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
      i += 2;
      while (i < s.size() && !(s[i] >= 0x40 && s[i] <= 0x7e)) ++i;  // up to the final byte
      continue;
    }
    out += s[i];
  }
  return out;
}

}  // namespace nixmon::nod
