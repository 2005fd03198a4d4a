#pragma once
// The query side of nod: turns QueryOptions into a Report by reading the database (schema in
// docs/nod-schema.md). The daemon runs these in its query handlers and sends the report as data;
// the CLI runs the same code on a read-only connection when no daemon answers, so both give the
// same report, which the CLI renders.
//
// Threads: each call uses the Database it is given, from the calling thread only. Throws Error
// (with the query that failed) on database errors.
#include <cstdint>
#include <string>

#include "common/sqlite.hh"
#include "format/report.hh"
#include "query/options.hh"

namespace nixmon::nod {

// The time range a query covers: [from_ms, to_ms) in wall-clock Unix milliseconds, aligned to UTC
// days. All time: from_ms = nullopt.
struct Period {
  std::optional<int64_t> from_ms;
  int64_t to_ms = 0;
  std::string label;  // "all time", "last 7 days (2026-11-15 .. 2026-11-21)"
};
Period period_of(const QueryOptions& o, int64_t now_ms);
// The period of the same length just before `p` (for --output test).
Period prior_period(const Period& p);

// summary, --group, --bucket, --output test, regressions, failures, builds. `now_ms` is the wall
// clock (tests pin it with NOD_NOW_MS).
format::Report run_query(const sqlite::Database& db, const QueryOptions& o, int64_t now_ms);

format::Report summary_report(const sqlite::Database& db, const QueryOptions& o, int64_t now_ms);
format::Report group_report(const sqlite::Database& db, const QueryOptions& o, int64_t now_ms);
format::Report bucket_report(const sqlite::Database& db, const QueryOptions& o, int64_t now_ms);
format::Report test_report(const sqlite::Database& db, const QueryOptions& o, int64_t now_ms);
format::Report regressions_report(const sqlite::Database& db, const QueryOptions& o);
// `nod failures`, `nod builds`: the newest o.last rows of the period, newest first.
format::Report failures_report(const sqlite::Database& db, const QueryOptions& o, int64_t now_ms);
format::Report builds_report(const sqlite::Database& db, const QueryOptions& o, int64_t now_ms);

// The output the user asked for (`output`): tables drawn with `how` (colour, pictures, width), CSV
// or JSON; test uses tables. Only the CLI renders: the daemon answers with the report itself.
std::string render(const format::Report& r, OutputFormat output,
                   const format::RenderOptions& how = {});

}  // namespace nixmon::nod
