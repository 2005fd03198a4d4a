#include "format/table.hh"

#include <algorithm>

#include "common/error.hh"

namespace nixmon::nod::format {

std::size_t text_width(std::string_view s) {
  std::size_t w = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++w;  // count lead bytes only
  return w;
}

void Table::add(std::vector<std::string> row) {
  if (row.size() != columns_.size())
    throw Error(fmt::format("table row has {} cells for {} columns", row.size(), columns_.size()));
  rows_.push_back(std::move(row));
}

namespace {

// A cell's physical lines: a cell may hold several (a failure's message), one per line of output.
std::vector<std::string_view> lines_of(std::string_view cell) {
  std::vector<std::string_view> out;
  for (;;) {
    auto nl = cell.find('\n');
    out.push_back(cell.substr(0, nl));
    if (nl == std::string_view::npos) return out;
    cell.remove_prefix(nl + 1);
  }
}

}  // namespace

std::string Table::render(bool colour) const {
  std::vector<std::size_t> width(columns_.size());
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    width[c] = text_width(columns_[c].title);
    for (const auto& r : rows_)
      for (auto l : lines_of(r[c])) width[c] = std::max(width[c], text_width(l));
  }
  std::string out;
  auto line = [&](const std::vector<std::string_view>& cells, bool header) {
    std::string l;
    for (std::size_t c = 0; c < cells.size(); ++c) {
      std::size_t pad = width[c] - text_width(cells[c]);
      bool last = c + 1 == cells.size();
      if (c > 0) l += "  ";
      bool dim = colour && !header && cells[c] == "-";
      std::string cell(cells[c]);
      if (dim) cell = "\x1b[2m" + cell + "\x1b[0m";
      if (columns_[c].align == Align::right) {
        l.append(pad, ' ');
        l += cell;
      } else {
        l += cell;
        if (!last) l.append(pad, ' ');
      }
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    if (header && colour) l = "\x1b[1m" + l + "\x1b[0m";
    out += l;
    out += '\n';
  };
  std::vector<std::string_view> titles;
  for (const auto& c : columns_) titles.push_back(c.title);
  line(titles, true);
  for (const auto& r : rows_) {
    // Row of several lines: the other columns are blank below their first line.
    std::vector<std::vector<std::string_view>> cells;
    std::size_t height = 1;
    for (const auto& cell : r) {
      cells.push_back(lines_of(cell));
      height = std::max(height, cells.back().size());
    }
    for (std::size_t i = 0; i < height; ++i) {
      std::vector<std::string_view> physical;
      for (const auto& c : cells) physical.push_back(i < c.size() ? c[i] : std::string_view());
      line(physical, false);
    }
  }
  return out;
}

std::string csv_field(std::string_view f) {
  if (f.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(f);
  std::string out = "\"";
  for (char c : f) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string csv_record(const std::vector<std::string>& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ',';
    out += csv_field(fields[i]);
  }
  out += "\r\n";
  return out;
}

}  // namespace nixmon::nod::format
