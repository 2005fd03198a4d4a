#pragma once
// Pictures in text tables: a horizontal bar of one number against a maximum, and the spread of
// a sample (whiskers min..max, a box q1..q3, the median) on a scale shared with another sample.
// Pure functions of their arguments (no locale, no terminal): the CLI decides which glyphs the
// user's terminal can show and says so in RenderOptions. Thread-safe.
#include <cstddef>
#include <optional>
#include <string>

namespace nixmon::nod::format {

// Unicode block and box-drawing characters (█▌, ├─[█│█]─┤), or plain ASCII (#, |-[=|=]-|) for
// locales that are not UTF-8 and for NO_COLOR.
enum class Glyphs { unicode, ascii };

// Default (and largest) widths of pictures, in character cells.
inline constexpr std::size_t bar_width = 12;
inline constexpr std::size_t spread_width = 24;
// Pictures never shrink below this to fit a narrow terminal (a 2-cell bar says nothing).
inline constexpr std::size_t min_picture_width = 4;

// `value` as a bar of at most `width` cells, `max` filling all of them. Unknown is "-" (as every
// unknown cell), a measured 0 (or a max of 0) is "" — no bar — and any other positive value at
// least the smallest step (⅛ cell in Unicode, one cell in ASCII), so "small" never reads as
// "none". Values above max are drawn as max.
std::string bar(std::optional<double> value, double max, std::size_t width, Glyphs g);

// Five numbers of a sample, min <= q1 <= median <= q3 <= max.
struct Spread {
  double min = 0, q1 = 0, median = 0, q3 = 0, max = 0;
};

// One line of exactly `width` cells: blank outside [s.min, s.max] on the scale [lo, hi], whiskers
// ├──┤ from min to max, the box [███] from q1 to q3 and │ at the median (ASCII: |--[==|==]--|).
// Points closer than a cell share it, the median winning. lo == hi draws everything at the
// middle. width >= 1.
std::string spread(const Spread& s, double lo, double hi, std::size_t width, Glyphs g);

}  // namespace nixmon::nod::format
