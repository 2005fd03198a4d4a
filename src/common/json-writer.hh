#pragma once
// A minimal streaming JSON writer (nod's protocol answers and stored `fields`, the flake
// collector's NATS messages): strings are escaped per RFC 8259 with invalid UTF-8 replaced by
// U+FFFD, so the output is always valid JSON; numbers are written locale-independently. Commas are
// inserted automatically.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace nixmon {

class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view k);
  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(int64_t n);
  JsonWriter& value(uint64_t n);
  JsonWriter& value(int n) { return value(static_cast<int64_t>(n)); }
  JsonWriter& value(double d);
  JsonWriter& value(bool b);
  JsonWriter& null();
  template <typename T>
  JsonWriter& field(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }
  const std::string& str() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void separate();
  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written yet
  bool after_key_ = false;
};

void append_json_string(std::string& out, std::string_view s);

// A finite double as the shortest text that reads back as the same value after rounding to 15
// significant digits: sums and means of stored milliseconds carry binary noise in their last bits
// (1736.2 + 0.0 can come out as 1736.2000000000003), which 15 digits (all a double holds exactly
// in decimal) drop, while whole numbers stay whole (1e15 is written 1000000000000000). Not for
// NaN or infinities (JSON has none): callers write null for those.
std::string format_number(double d);

}  // namespace nixmon
