#include "nixmon/text-table.hh"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace nixmon::cli {

namespace {

std::size_t width(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string_view escape(Colour c) {
  switch (c) {
    case Colour::red:
      return "\033[31m";
    case Colour::yellow:
      return "\033[33m";
    case Colour::green:
      return "\033[32m";
    case Colour::dim:
      return "\033[2m";
    case Colour::none:
      break;
  }
  return "";
}

}  // namespace

std::string TextTable::render(bool colour) const {
  std::vector<std::size_t> widths;
  for (const auto& h : header_) widths.push_back(width(h));
  for (const auto& row : rows_)
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
      widths[i] = std::max(widths[i], width(row[i].text));
  std::string out;
  auto line = [&](auto cells, auto text_of, auto colour_of) {
    std::string l;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      std::string_view t = text_of(cells[i]);
      Colour c = colour && i < cells.size() ? colour_of(cells[i]) : Colour::none;
      if (c != Colour::none) l += escape(c);
      l += t;
      if (c != Colour::none) l += "\033[0m";
      if (i + 1 < cells.size()) l.append(widths[i] - width(t) + 2, ' ');
    }
    out += l + "\n";
  };
  line(
      header_, [](const std::string& s) -> std::string_view { return s; },
      [](const std::string&) { return Colour::none; });
  for (const auto& row : rows_)
    line(
        row, [](const Cell& c) -> std::string_view { return c.text; },
        [](const Cell& c) { return c.text == unknown_cell ? Colour::dim : c.colour; });
  return out;
}

std::string csv_record(const std::vector<std::string>& fields) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ',';
    const auto& f = fields[i];
    if (f.find_first_of(",\"\r\n") == std::string::npos) {
      out += f;
      continue;
    }
    out += '"';
    for (char c : f) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
  return out + "\r\n";
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += separator;
    out += p;
  }
  return out;
}

bool use_colour() {
  const char* no_colour = std::getenv("NO_COLOR");
  if (no_colour && *no_colour) return false;
  return isatty(STDOUT_FILENO) == 1;
}

std::string format_age(double seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds >= 86400) return fmt::format("{}d", static_cast<long long>(seconds / 86400));
  if (seconds >= 3600) return fmt::format("{}h", static_cast<long long>(seconds / 3600));
  if (seconds >= 60) return fmt::format("{}m", static_cast<long long>(seconds / 60));
  return fmt::format("{}s", static_cast<long long>(seconds));
}

std::string format_bytes(double bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (bytes >= 1024 && u < 5) {
    bytes /= 1024;
    ++u;
  }
  if (u == 0) return fmt::format("{} B", static_cast<long long>(bytes));
  return bytes < 10 ? fmt::format("{:.1f} {}", bytes, units[u])
                    : fmt::format("{:.0f} {}", bytes, units[u]);
}

std::string format_percent(double ratio) {
  return fmt::format("{:.0f}%", ratio * 100);
}

}  // namespace nixmon::cli
