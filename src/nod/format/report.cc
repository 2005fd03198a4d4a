#include "format/report.hh"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "common/json-writer.hh"
#include "format/human.hh"

namespace nixmon::nod::format {

Cell text_cell(std::string s) {
  Cell c{s, s};
  return c;
}
Cell figure_cell(Figure f) {
  Cell c{"", {}, std::move(f)};
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

namespace {

// The label in front of each line of a SpreadFigure.
constexpr std::string_view history_label = "history ", recent_label = "recent  ";

// How wide a picture column draws (excluding labels): its full size, or less (never below
// min_picture_width) so that the table fits `options.width` beside its other columns.
std::size_t picture_width(const ReportTable& t, const std::vector<std::size_t>& text_cols,
                          const std::vector<std::size_t>& picture_cols, std::size_t full,
                          std::size_t label, const RenderOptions& options) {
  if (options.width == 0) return full;
  std::vector<Column> cols;
  for (auto c : text_cols) cols.push_back({t.columns[c].title, t.columns[c].align});
  Table probe(cols);
  for (const auto& row : t.rows) {
    std::vector<std::string> cells;
    for (auto c : text_cols) cells.push_back(row[c].text);
    probe.add(std::move(cells));
  }
  std::size_t used = 0;
  std::string text = probe.render(false);
  for (std::size_t from = 0; from < text.size();) {
    auto nl = text.find('\n', from);
    used = std::max(used, text_width(std::string_view(text).substr(from, nl - from)));
    from = nl + 1;
  }
  std::size_t n = picture_cols.size();
  std::size_t room = options.width > used + 2 * n ? (options.width - used - 2 * n) / n : 0;
  room = room > label ? room - label : 0;
  return std::clamp(room, min_picture_width, full);
}

std::string draw(const Figure& f, double max, std::size_t width, Glyphs g) {
  if (const auto* b = std::get_if<BarFigure>(&f)) return bar(b->value, max, width, g);
  if (const auto* s = std::get_if<SpreadFigure>(&f)) {
    // From 0 (or a negative duration of a clock step): positions are then proportional to the
    // durations, so "twice as slow" is twice as far right.
    double lo = std::min({0.0, s->history.min, s->recent.min});
    double hi = std::max(s->history.max, s->recent.max);
    return std::string(history_label) + spread(s->history, lo, hi, width, g) + "\n" +
           std::string(recent_label) + spread(s->recent, lo, hi, width, g);
  }
  return "";
}

}  // namespace

std::string render_text(const Report& r, const RenderOptions& options) {
  bool colour = options.colour;
  std::string out;
  if (!r.heading.empty()) out += r.heading + "\n";
  for (const auto& t : r.tables) {
    out += "\n";
    if (!t.title.empty()) out += colour ? "\x1b[1m" + t.title + ":\x1b[0m\n" : t.title + ":\n";
    if (t.rows.empty()) {
      out += "  " + t.empty_message + "\n";
      continue;
    }
    std::vector<std::size_t> shown, text_cols, picture_cols;
    for (std::size_t c = 0; c < t.columns.size(); ++c) {
      if (!t.columns[c].in_text || (t.columns[c].picture && !options.pictures)) continue;
      shown.push_back(c);
      (t.columns[c].picture ? picture_cols : text_cols).push_back(c);
    }
    // Every picture column of a table draws at one width: bars of the full size, spreads of the
    // full size, or what fits.
    bool spreads = false;
    for (auto c : picture_cols)
      for (const auto& row : t.rows)
        spreads = spreads || std::holds_alternative<SpreadFigure>(row[c].figure);
    std::size_t width = 0;
    if (!picture_cols.empty())
      width = spreads ? picture_width(t, text_cols, picture_cols, spread_width,
                                      history_label.size(), options)
                      : picture_width(t, text_cols, picture_cols, bar_width, 0, options);
    // Each bar column's maxima, one per scale.
    std::map<std::pair<std::size_t, std::string>, double> maxima;
    for (auto c : picture_cols)
      for (const auto& row : t.rows)
        if (const auto* b = std::get_if<BarFigure>(&row[c].figure); b && b->value) {
          double& m = maxima[{c, b->scale}];
          m = std::max(m, *b->value);
        }

    std::vector<Column> cols;
    for (auto c : shown)
      cols.push_back({t.columns[c].title, t.columns[c].picture ? Align::left : t.columns[c].align});
    Table table(cols);
    for (const auto& row : t.rows) {
      std::vector<std::string> cells;
      for (auto c : shown) {
        if (!t.columns[c].picture) {
          cells.push_back(row[c].text);
          continue;
        }
        const auto* b = std::get_if<BarFigure>(&row[c].figure);
        double max = b ? maxima[{c, b->scale}] : 0;
        cells.push_back(draw(row[c].figure, max, width, *options.pictures));
      }
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
      if (!c.picture && std::find(keys.begin(), keys.end(), c.key) == keys.end())
        keys.push_back(c.key);
  std::vector<std::string> header{"table"};
  header.insert(header.end(), keys.begin(), keys.end());
  std::string out = csv_record(header);
  for (const auto& t : r.tables) {
    for (const auto& row : t.rows) {
      std::vector<std::string> fields(keys.size() + 1);
      fields[0] = t.name;
      for (std::size_t c = 0; c < t.columns.size(); ++c) {
        if (t.columns[c].picture) continue;
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
        if (t.columns[c].picture) continue;
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
