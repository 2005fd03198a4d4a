#pragma once
// UTF-8 validation and repair, the one copy: exposition label values, JSON strings and Nix log
// lines all go through it. Valid means RFC 3629: no overlong forms, no surrogates (U+D800..DFFF),
// nothing past U+10FFFF, no truncated sequence. Repair replaces each byte that does not start a
// valid sequence by U+FFFD and goes on with the next byte, as Nix does before it writes a log line
// (so a repaired line reads the same here as in Nix's own output).
//
// Thread-safety: pure functions.
#include <cstddef>
#include <string>
#include <string_view>

namespace nixmon {

// The length of the valid sequence starting at s[i] (1 to 4), or 0 when s[i] starts none.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i);

bool is_valid_utf8(std::string_view s);

// `s` with every invalid byte replaced by U+FFFD ("\xEF\xBF\xBD"); `s` itself when valid.
std::string repair_utf8(std::string_view s);

}  // namespace nixmon
