#pragma once
// The terminal side of every subcommand: an aligned table whose cells may carry a colour, RFC 4180
// CSV, and the output switch (--output table|json|csv). Colour is the caller's decision
// (use_colour: a terminal and no NO_COLOR); widths ignore the escape codes. Not thread-safe.
#include <string>
#include <string_view>
#include <vector>

namespace nixmon::cli {

enum class Colour { none, red, yellow, green, dim };

struct Cell {
  std::string text;
  Colour colour = Colour::none;
};

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  void add(std::vector<Cell> row) { rows_.push_back(std::move(row)); }
  bool empty() const { return rows_.empty(); }
  // Columns two spaces apart, padded to the widest cell (UTF-8 code points), no trailing blanks.
  std::string render(bool colour) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<Cell>> rows_;
};

std::string csv_record(const std::vector<std::string>& fields);
std::string join(const std::vector<std::string>& parts, std::string_view separator);

enum class OutputFormat { table, json, csv };

// True when stdout is a terminal and NO_COLOR is unset or empty (https://no-color.org).
bool use_colour();

// Human figures: "3d", "5h", "12m", "40s"; "1.5 GiB", "512 KiB", "17 B"; "42%". Unknown is "-".
std::string format_age(double seconds);
std::string format_bytes(double bytes);
std::string format_percent(double ratio);
inline constexpr std::string_view unknown_cell = "-";

}  // namespace nixmon::cli
