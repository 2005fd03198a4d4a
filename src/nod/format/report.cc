#include "nod/format/report.hh"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/json-writer.hh"
#include "nod/format/human.hh"

namespace nixmon::nod::format {

Cell text_cell(std::string s) {
  Cell c{s, s};
  return c;
}
Cell text_cell(const char* s) {
  return text_cell(std::string(s));
}
Cell text_cell(std::optional<std::string> s) {
  if (!s) return {unknown, {}};
  return text_cell(std::move(*s));
}
Cell microseconds_cell(std::optional<int64_t> us) {
  if (!us) return {unknown, {}};
  return {duration_ms(static_cast<double>(*us) / 1000), *us};
}
Cell int_cell(std::optional<int64_t> n) {
  if (!n) return {unknown, {}};
  return {fmt::format("{}", *n), *n};
}
Cell count_cell(int64_t n) {
  return {count(static_cast<uint64_t>(std::max<int64_t>(n, 0))), n};
}
Cell duration_cell(std::optional<double> ms) {
  if (!ms) return {unknown, {}};
  // Raw: whole milliseconds where the value is whole, else the real value (means, percentiles).
  Cell c{duration_ms(*ms), {}};
  if (std::floor(*ms) == *ms)
    c.raw.emplace<int64_t>(static_cast<int64_t>(*ms));
  else
    c.raw.emplace<double>(*ms);
  return c;
}
Cell bytes_cell(std::optional<double> b) {
  if (!b) return {unknown, {}};
  Cell c{bytes(*b), {}};
  if (std::floor(*b) == *b)
    c.raw.emplace<int64_t>(static_cast<int64_t>(*b));
  else
    c.raw.emplace<double>(*b);
  return c;
}
Cell ratio_cell(std::optional<double> f) {
  if (!f) return {unknown, {}};
  return {percent(*f), *f};
}
Cell real_cell(std::optional<double> v, const char* spec) {
  if (!v) return {unknown, {}};
  return {fmt::format(fmt::runtime(spec), *v), *v};
}

namespace {

std::string raw_text(const Raw& r) {
  struct V {
    std::string operator()(std::monostate) const { return ""; }
    std::string operator()(int64_t v) const { return fmt::format("{}", v); }
    std::string operator()(double v) const { return format_number(v); }  // as in JSON
    std::string operator()(const std::string& v) const { return v; }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
  };
  return std::visit(V{}, r);
}

void raw_json(JsonWriter& w, const Raw& r) {
  struct V {
    JsonWriter& w;
    void operator()(std::monostate) const { w.null(); }
    void operator()(int64_t v) const { w.value(v); }
    void operator()(double v) const {
      if (std::isfinite(v))
        w.value(v);
      else
        w.null();  // JSON has no NaN/Inf; "unknown" is null
    }
    void operator()(const std::string& v) const { w.value(std::string_view(v)); }
    void operator()(bool v) const { w.value(v); }
  };
  std::visit(V{w}, r);
}

}  // namespace

std::string render_text(const Report& r, bool colour) {
  std::string out;
  if (!r.heading.empty()) out += r.heading + "\n";
  for (const auto& t : r.tables) {
    out += "\n";
    if (!t.title.empty()) out += colour ? "\x1b[1m" + t.title + ":\x1b[0m\n" : t.title + ":\n";
    if (t.rows.empty()) {
      out += "  " + t.empty_message + "\n";
      continue;
    }
    std::vector<Column> cols;
    for (const auto& c : t.columns)
      if (c.in_text) cols.push_back({c.title, c.align});
    Table table(cols);
    for (const auto& row : t.rows) {
      std::vector<std::string> cells;
      for (std::size_t c = 0; c < row.size(); ++c)
        if (t.columns[c].in_text) cells.push_back(row[c].text);
      table.add(std::move(cells));
    }
    out += table.render(colour);
  }
  if (!r.notes.empty()) {
    out += "\n";
    for (const auto& n : r.notes) out += n + "\n";
  }
  return out;
}

std::string render_csv(const Report& r) {
  std::vector<std::string> keys;
  for (const auto& t : r.tables)
    for (const auto& c : t.columns)
      if (std::find(keys.begin(), keys.end(), c.key) == keys.end()) keys.push_back(c.key);
  std::vector<std::string> header{"table"};
  header.insert(header.end(), keys.begin(), keys.end());
  std::string out = csv_record(header);
  for (const auto& t : r.tables) {
    for (const auto& row : t.rows) {
      std::vector<std::string> fields(keys.size() + 1);
      fields[0] = t.name;
      for (std::size_t c = 0; c < t.columns.size(); ++c) {
        auto pos = std::find(keys.begin(), keys.end(), t.columns[c].key) - keys.begin();
        fields[static_cast<std::size_t>(pos) + 1] = raw_text(row[c].raw);
      }
      out += csv_record(fields);
    }
  }
  return out;
}

std::string render_json(const Report& r) {
  JsonWriter w;
  w.begin_object();
  for (const auto& [k, v] : r.meta) {
    w.key(k);
    raw_json(w, v);
  }
  for (const auto& t : r.tables) {
    w.key(t.name).begin_array();
    for (const auto& row : t.rows) {
      w.begin_object();
      for (std::size_t c = 0; c < t.columns.size(); ++c) {
        w.key(t.columns[c].key);
        raw_json(w, row[c].raw);
      }
      w.end_object();
    }
    w.end_array();
  }
  w.key("notes").begin_array();
  for (const auto& n : r.notes) w.value(std::string_view(n));
  w.end_array();
  w.end_object();
  return w.take() + "\n";
}

}  // namespace nixmon::nod::format
