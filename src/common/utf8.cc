#include "common/utf8.hh"

namespace nixmon {

namespace {

constexpr std::string_view replacement = "\xEF\xBF\xBD";

bool is_continuation(std::string_view s, std::size_t k) {
  return k < s.size() && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80;
}

}  // namespace

std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  // 0xC0 and 0xC1 only start overlong forms of ASCII; 0xF5..0xFF would be past U+10FFFF.
  std::size_t len = c >= 0xC2 && c <= 0xDF   ? 2
                    : c >= 0xE0 && c <= 0xEF ? 3
                    : c >= 0xF0 && c <= 0xF4 ? 4
                                             : 0;
  for (std::size_t k = 1; k < len; ++k) {
    if (!is_continuation(s, i + k)) return 0;
  }
  if (len < 3) return len;
  // The second byte's range rules out the overlong forms, the surrogates and what lies past
  // U+10FFFF (RFC 3629, section 4).
  auto c1 = static_cast<unsigned char>(s[i + 1]);
  if (c == 0xE0 && c1 < 0xA0) return 0;
  if (c == 0xED && c1 >= 0xA0) return 0;
  if (c == 0xF0 && c1 < 0x90) return 0;
  if (c == 0xF4 && c1 >= 0x90) return 0;
  return len;
}

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::size_t len = utf8_sequence_length(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string repair_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    if (std::size_t len = utf8_sequence_length(s, i)) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out.append(replacement);
      ++i;
    }
  }
  return out;
}

}  // namespace nixmon
