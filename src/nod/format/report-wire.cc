#include "format/report-wire.hh"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "common/error.hh"

namespace nixmon::nod::format {

namespace dom = simdjson::dom;

namespace {

void write_raw(JsonWriter& w, const Raw& raw) {
  struct V {
    JsonWriter& w;
    void operator()(std::monostate) const { w.key("raw").null(); }
    void operator()(int64_t v) const { w.key("raw").value(v); }
    void operator()(double v) const {
      if (std::isfinite(v))
        w.key("raw").value(v);
      else
        w.key("raw_real").value(std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
    }
    void operator()(const std::string& v) const { w.key("raw").value(std::string_view(v)); }
    void operator()(bool v) const { w.key("raw").value(v); }
  };
  std::visit(V{w}, raw);
}

void write_spread(JsonWriter& w, const Spread& s) {
  w.begin_array().value(s.min).value(s.q1).value(s.median).value(s.q3).value(s.max).end_array();
}

void write_cell(JsonWriter& w, const Cell& c) {
  w.begin_object().field("text", std::string_view(c.text));
  write_raw(w, c.raw);
  if (const auto* b = std::get_if<BarFigure>(&c.figure)) {
    w.key("bar").begin_object().key("value");
    if (b->value)
      w.value(*b->value);
    else
      w.null();
    w.field("scale", std::string_view(b->scale)).end_object();
  } else if (const auto* s = std::get_if<SpreadFigure>(&c.figure)) {
    w.key("spread").begin_object().key("history");
    write_spread(w, s->history);
    w.key("recent");
    write_spread(w, s->recent);
    w.end_object();
  }
  w.end_object();
}

[[noreturn]] void bad(std::string_view what) {
  throw Error(fmt::format("the daemon's report is malformed: {}", what));
}

template <typename T>
T need(simdjson::simdjson_result<T> r, std::string_view what) {
  T v;
  if (std::move(r).get(v)) bad(what);
  return v;
}

std::string text(dom::element e, std::string_view key) {
  return std::string(need(e[key].get_string(), key));
}

double real(dom::element e, std::string_view what) {
  // Whole numbers were written without a fraction: they come back as integers.
  if (e.is_int64()) return static_cast<double>(e.get_int64().value_unsafe());
  if (e.is_uint64()) return static_cast<double>(e.get_uint64().value_unsafe());
  return need(e.get_double(), what);
}

Raw read_raw(dom::object cell) {
  dom::element e;
  if (cell["raw"].get(e)) {
    std::string_view r = need(cell["raw_real"].get_string(), "a cell has no raw value");
    if (r == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (r == "inf") return std::numeric_limits<double>::infinity();
    if (r == "-inf") return -std::numeric_limits<double>::infinity();
    bad("raw_real");
  }
  switch (e.type()) {
    case dom::element_type::NULL_VALUE:
      return std::monostate{};
    case dom::element_type::INT64:
      return e.get_int64().value_unsafe();
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      return real(e, "raw");
    case dom::element_type::STRING:
      return std::string(e.get_string().value_unsafe());
    case dom::element_type::BOOL:
      return e.get_bool().value_unsafe();
    default:
      bad("a cell's raw value is not a scalar");
  }
}

Spread read_spread(dom::element e) {
  dom::array a = need(e.get_array(), "spread");
  if (a.size() != 5) bad("a spread has not five numbers");
  double v[5];
  std::size_t i = 0;
  for (dom::element n : a) v[i++] = real(n, "spread");
  return Spread{v[0], v[1], v[2], v[3], v[4]};
}

Cell read_cell(dom::element e) {
  dom::object o = need(e.get_object(), "a cell is not an object");
  Cell c{text(e, "text"), read_raw(o)};
  dom::element f;
  if (!o["bar"].get(f)) {
    BarFigure b;
    dom::element v = need(f["value"], "bar value");
    if (!v.is_null()) b.value = real(v, "bar value");
    b.scale = text(f, "scale");
    c.figure = std::move(b);
  } else if (!o["spread"].get(f)) {
    c.figure = SpreadFigure{read_spread(need(f["history"], "spread history")),
                            read_spread(need(f["recent"], "spread recent"))};
  }
  return c;
}

}  // namespace

void write_report(JsonWriter& w, const Report& r) {
  w.begin_object();
  w.field("heading", std::string_view(r.heading));
  w.key("meta").begin_array();
  for (const auto& [k, v] : r.meta) {
    // [key, raw] pairs keep the order (a JSON object's order is not guaranteed to readers).
    w.begin_array().value(std::string_view(k)).begin_object();
    write_raw(w, v);
    w.end_object().end_array();
  }
  w.end_array();
  w.key("tables").begin_array();
  for (const auto& t : r.tables) {
    w.begin_object();
    w.field("name", std::string_view(t.name)).field("title", std::string_view(t.title));
    w.field("empty_message", std::string_view(t.empty_message));
    w.key("columns").begin_array();
    for (const auto& c : t.columns)
      w.begin_object()
          .field("key", std::string_view(c.key))
          .field("title", std::string_view(c.title))
          .field("align", c.align == Align::left ? "left" : "right")
          .field("in_text", c.in_text)
          .field("picture", c.picture)
          .end_object();
    w.end_array();
    w.key("rows").begin_array();
    for (const auto& row : t.rows) {
      w.begin_array();
      for (const auto& cell : row) write_cell(w, cell);
      w.end_array();
    }
    w.end_array();
    w.end_object();
  }
  w.end_array();
  w.key("notes").begin_array();
  for (const auto& n : r.notes) w.value(std::string_view(n));
  w.end_array();
  w.end_object();
}

Report read_report(dom::element e) {
  Report r;
  r.heading = text(e, "heading");
  for (dom::element m : need(e["meta"].get_array(), "meta")) {
    dom::array pair = need(m.get_array(), "meta");
    if (pair.size() != 2) bad("a meta entry is not [key, value]");
    r.meta.emplace_back(std::string(need(pair.at(0).get_string(), "meta key")),
                        read_raw(need(pair.at(1).get_object(), "meta value")));
  }
  for (dom::element te : need(e["tables"].get_array(), "tables")) {
    ReportTable t;
    t.name = text(te, "name");
    t.title = text(te, "title");
    t.empty_message = text(te, "empty_message");
    for (dom::element ce : need(te["columns"].get_array(), "columns")) {
      ReportColumn c;
      c.key = text(ce, "key");
      c.title = text(ce, "title");
      c.align = text(ce, "align") == "left" ? Align::left : Align::right;
      c.in_text = need(ce["in_text"].get_bool(), "in_text");
      c.picture = need(ce["picture"].get_bool(), "picture");
      t.columns.push_back(std::move(c));
    }
    for (dom::element re : need(te["rows"].get_array(), "rows")) {
      std::vector<Cell> row;
      for (dom::element cell : need(re.get_array(), "a row is not an array"))
        row.push_back(read_cell(cell));
      if (row.size() != t.columns.size()) bad("a row has not one cell per column");
      t.rows.push_back(std::move(row));
    }
    r.tables.push_back(std::move(t));
  }
  for (dom::element n : need(e["notes"].get_array(), "notes"))
    r.notes.emplace_back(need(n.get_string(), "notes"));
  return r;
}

}  // namespace nixmon::nod::format
