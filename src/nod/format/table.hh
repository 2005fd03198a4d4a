#pragma once
// Output writers: an aligned text table for people and RFC 4180 CSV for machines, fed the same
// rows. Colour (ANSI bold header, dim placeholders) only when asked — the caller decides from
// isatty and NO_COLOR. Not thread-safe; one writer per output.
#include <string>
#include <string_view>
#include <vector>

namespace nixmon::nod::format {

enum class Align { left, right };

struct Column {
  std::string title;
  Align align = Align::right;
};

class Table {
 public:
  explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}
  // Each row must have one cell per column.
  void add(std::vector<std::string> row);
  bool empty() const { return rows_.empty(); }
  std::size_t size() const { return rows_.size(); }

  // Columns padded to their widest cell (by UTF-8 code points), two spaces apart, no trailing
  // blanks; a header line. A cell with newlines takes as many lines (the row's other cells are
  // blank below their first line).
  std::string render(bool colour) const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// One CSV record with CRLF line end (RFC 4180): fields holding a comma, quote, CR or LF are quoted,
// quotes doubled.
std::string csv_record(const std::vector<std::string>& fields);
std::string csv_field(std::string_view field);

// Display width of UTF-8 text in code points (enough for the names we print).
std::size_t text_width(std::string_view s);

}  // namespace nixmon::nod::format
