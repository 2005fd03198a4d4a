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

#include "nod/format/table.hh"

namespace nixmon::nod::format {

// The machine value: null (unknown), integer, real, text, or boolean.
using Raw = std::variant<std::monostate, int64_t, double, std::string, bool>;

struct Cell {
  std::string text;  // for people; "-" when unknown
  Raw raw;           // for CSV and JSON
};

struct ReportColumn {
  std::string key;    // CSV header / JSON key, snake_case, with unit suffixes (_ms, _bytes)
  std::string title;  // table header
  Align align = Align::right;
  bool in_text = true;  // false: only for machines (CSV, JSON), e.g. a full path beside a name
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

std::string render_text(const Report& r, bool colour);
// One CSV table: a leading "table" column, then the union of all tables' columns in order of
// first appearance; cells a table does not have are empty, unknown values are empty.
std::string render_csv(const Report& r);
// {"meta...": ..., "<table name>": [ {column key: raw value}, ... ], "notes": [...]}.
std::string render_json(const Report& r);

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
