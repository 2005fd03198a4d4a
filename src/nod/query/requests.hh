#pragma once
// The daemon's query requests (docs/nod-protocol.md): "query" (summary, group, bucket, test,
// regressions, failures, builds — the report as data, format/report-wire.hh), "clean-count" and
// "clean-step" (a clean in steps, so the CLI can show progress). Each request opens its own
// connection to the database: read-only for queries, read-write for clean (WAL lets it run beside
// the record writer; each step is a short transaction).
#include <string>

#include "query/protocol.hh"

namespace nixmon::nod {

void register_query_requests(QueryService& service, const std::string& db_path);

// The request's "now_ms" if present (the CLI sends its clock, so a test can pin it), else now.
int64_t request_now_ms(std::string_view request);

}  // namespace nixmon::nod
