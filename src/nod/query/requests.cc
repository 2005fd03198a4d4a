#include "query/requests.hh"

#include <simdjson.h>

#include "common/clock.hh"
#include "common/error.hh"
#include "format/report-wire.hh"
#include "query/engine.hh"
#include "store/record-store.hh"

namespace nixmon::nod {

namespace {

std::optional<int64_t> int_key(std::string_view request, std::string_view key) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(request);
  simdjson::dom::element doc;
  if (parser.parse(padded).get(doc)) throw UsageError("request is not JSON");
  int64_t v = 0;
  if (doc[key].get_int64().get(v)) return std::nullopt;
  if (key == "before_days" && v < 1) throw UsageError("before_days must be at least 1");
  return v;
}

}  // namespace

int64_t request_now_ms(std::string_view request) {
  return int_key(request, "now_ms").value_or(now_ms());
}

void register_query_requests(QueryService& service, const std::string& db_path) {
  service.add("query", [db_path](std::string_view request, JsonWriter& w) {
    QueryOptions o = query_options_from_json(request);
    auto db = open_for_reading(db_path);
    w.key("report");
    format::write_report(w, run_query(db, o, request_now_ms(request)));
  });
  service.add("clean-count", [db_path](std::string_view request, JsonWriter& w) {
    auto db = open_for_reading(db_path);
    w.field("rows", clean_count(db, int_key(request, "before_days"), request_now_ms(request)));
  });
  service.add("clean-step", [db_path](std::string_view request, JsonWriter& w) {
    open_for_reading(db_path);  // the schema check, before writing anything
    sqlite::Database db(db_path, sqlite::Database::Mode::read_write);
    db.busy_timeout(5000);
    auto step = clean_step(db, int_key(request, "before_days"), request_now_ms(request),
                           int_key(request, "max_rows").value_or(50000));
    w.field("removed", step.removed).field("done", step.done);
  });
}

}  // namespace nixmon::nod
