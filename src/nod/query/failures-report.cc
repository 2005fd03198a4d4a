// `nod failures`: the newest failures Nix reported, newest first — when, why (the failure kind
// and exit code), where (a remote builder), which derivation, and the first lines of the message.
#include <fmt/format.h>

#include "format/human.hh"
#include "format/table.hh"
#include "query/common.hh"

namespace nixmon::nod {

using namespace format;

namespace {

constexpr std::size_t message_lines = 3;
constexpr std::size_t message_width = 100;  // code points per line shown

// The first non-blank lines of a message, without their indentation (Nix indents the lines
// after the first), each cut to a width; "…" marks what was left out.
std::string first_lines(std::string_view message) {
  std::string out;
  std::size_t shown = 0;
  bool more = false;
  while (!message.empty()) {
    auto nl = message.find('\n');
    std::string_view line = message.substr(0, nl);
    message.remove_prefix(nl == std::string_view::npos ? message.size() : nl + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.remove_suffix(1);
    if (line.empty()) continue;
    if (shown == message_lines) {
      more = true;
      break;
    }
    if (text_width(line) > message_width) {
      // Cut at a code point boundary.
      std::size_t points = 0, i = 0;
      for (; i < line.size(); ++i)
        if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80 && points++ == message_width)
          break;
      out += std::string(line.substr(0, i)) + "…";
    } else {
      out += line;
    }
    if (++shown < message_lines) out += '\n';
  }
  while (!out.empty() && out.back() == '\n') out.pop_back();
  if (more) out += " …";
  return out;
}

}  // namespace

Report failures_report(const sqlite::Database& db, const QueryOptions& o, int64_t now_ms) {
  Period p = period_of(o, now_ms);
  // failures_time serves the order and the period; a name is matched on the few rows it yields.
  std::string sql =
      "SELECT time_ms, kind, exit_code, machine, name, drv_path, message FROM failures "
      "WHERE time_ms >= ?2 AND time_ms < ?3";
  if (o.drv) sql += " AND instr(name, ?1) > 0";
  sql += " ORDER BY time_ms DESC, id DESC LIMIT ?4";
  auto st = db.prepare(sql);
  if (o.drv)
    st.bind(1, *o.drv);
  else
    st.bind_null(1);
  st.bind(2, p.from_ms.value_or(INT64_MIN)).bind(3, p.to_ms).bind(4, o.last);

  Report r = query::newest_rows_report("failure", p, o);
  ReportTable t;
  t.name = "failures";
  t.empty_message = "no failures recorded in this period";
  t.columns = {{"time_ms", "TIME", Align::left},
               {"kind", "KIND", Align::left},
               {"exit_code", "EXIT"},
               {"machine", "MACHINE", Align::left},
               {"name", "DERIVATION", Align::left},
               {"drv_path", "", Align::left, false},
               {"message", "MESSAGE", Align::left}};
  while (st.step()) {
    int64_t time = st.column_int(0);
    std::string machine = st.column_text(3);  // empty: the message named no remote builder
    std::string message = st.column_text(6);
    t.rows.push_back({Cell{query::utc_time(time), time}, text_cell(st.column_text(1)),
                      int_cell(st.column_opt_int(2)),
                      machine.empty() ? Cell{unknown, {}} : text_cell(machine),
                      text_cell(st.column_text(4)), text_cell(st.column_text(5)),
                      // People read the first lines; machines get the whole message.
                      Cell{first_lines(message), message}});
  }
  r.tables.push_back(std::move(t));
  return r;
}

}  // namespace nixmon::nod
