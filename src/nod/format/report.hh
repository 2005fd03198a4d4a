#pragma once
// The answer to a query, independent of how it is shown: a heading, named tables of cells (each
// cell has the text people read and the raw value machines read), and notes. Rendered as aligned
// tables (people), RFC 4180 CSV or JSON (machines). Not thread-safe; built and rendered by one
// thread.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "format/picture.hh"
#include "format/table.hh"

namespace nixmon::nod::format {

// The machine value: null (unknown), integer, real, text, or boolean.
using Raw = std::variant<std::monostate, int64_t, double, std::string, bool>;

// Pictures of a cell's numbers, drawn by render_text when RenderOptions::pictures asks (never
// in CSV or JSON: they carry the numbers themselves).
// A bar of `value`; the bars of one column with the same `scale` share the largest as their
// maximum (a column of several kinds: each kind against its own largest).
struct BarFigure {
  std::optional<double> value;
  std::string scale;
};
// Two samples on one scale from 0 to the larger maximum, two lines: "history" above, "recent"
// below.
struct SpreadFigure {
  Spread history, recent;
};
using Figure = std::variant<std::monostate, BarFigure, SpreadFigure>;

struct Cell {
  std::string text;  // for people; "-" when unknown
  Raw raw;           // for CSV and JSON
  Figure figure{};   // picture columns only
};

struct ReportColumn {
  std::string key;    // CSV header / JSON key, snake_case, with unit suffixes (_ms, _bytes)
  std::string title;  // table header
  Align align = Align::right;
  bool in_text = true;   // false: only for machines (CSV, JSON), e.g. a full path beside a name
  bool picture = false;  // true: drawn from the cells' figures, only in text with pictures on
};

struct ReportTable {
  std::string name;   // JSON key and CSV "table" column
  std::string title;  // heading above the table for people ("" = none)
  std::vector<ReportColumn> columns;
  std::vector<std::vector<Cell>> rows;
  std::string empty_message;  // what people read instead of an empty table
};

struct Report {
  std::string heading;  // e.g. "builds and substitutions, last 7 days (2026-11-15 .. 2026-11-21)"
  std::vector<std::pair<std::string, Raw>> meta;  // JSON top-level facts (period bounds...)
  std::vector<ReportTable> tables;
  std::vector<std::string> notes;  // extra lines for people (after the tables)
};

// How render_text draws a report. The same options give the same bytes on every path (the daemon
// renders for the CLI with the options the CLI sent).
struct RenderOptions {
  bool colour = false;             // ANSI bold headers, dim placeholders
  std::optional<Glyphs> pictures;  // nullopt: no picture columns at all
  std::size_t width = 0;           // the terminal's columns; 0: unknown (pictures at full size)
};

// Aligned tables for people. Picture columns are left out without RenderOptions::pictures, and
// shrink (down to min_picture_width) so that lines fit RenderOptions::width when it is known.
std::string render_text(const Report& r, const RenderOptions& options);
// CSV and JSON leave picture columns out.
// One CSV table: a leading "table" column, then the union of all tables' columns in order of
// first appearance; cells a table does not have are empty, unknown values are empty.
std::string render_csv(const Report& r);
// {"meta...": ..., "<table name>": [ {column key: raw value}, ... ], "notes": [...]}.
std::string render_json(const Report& r);

// A picture cell (text and raw empty: only render_text draws it).
Cell figure_cell(Figure f);

// Cell helpers: the human text and the raw value from one number (absent -> "-" and null).
Cell text_cell(std::string s);
Cell text_cell(const char* s);
Cell count_cell(int64_t n);
Cell duration_cell(std::optional<double> ms);
Cell bytes_cell(std::optional<double> bytes);
Cell ratio_cell(std::optional<double> fraction);
Cell real_cell(std::optional<double> v, const char* fmt_spec = "{:.4g}");
// A CPU time: shown as a duration, raw in whole microseconds.
Cell microseconds_cell(std::optional<int64_t> us);
// An integer as it is (exit codes: no thousands separators, negative allowed).
Cell int_cell(std::optional<int64_t> n);
// Text that may be absent: "-" and null.
Cell text_cell(std::optional<std::string> s);

}  // namespace nixmon::nod::format
