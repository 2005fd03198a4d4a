#include "common/version.hh"
#include "nod/daemon-context.hh"
#include "nod/query-requests.hh"
#include "nod/record-store.hh"
#include "nod/socket-server.hh"

namespace nixmon::nod {

namespace {
uint64_t get(const std::atomic<uint64_t>& c) {
  return c.load(std::memory_order_relaxed);
}
}  // namespace

void write_status(JsonWriter& w, const DaemonContext& ctx) {
  const Counters& c = *ctx.counters;
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                 ctx.started)
                    .count();
  w.field("version", std::string_view(version));
  w.field("schema_version", schema_version);
  w.field("socket", ctx.socket_path).field("db", ctx.db_path);
  w.field("uptime_seconds", static_cast<int64_t>(uptime));
  w.field("records", get(c.records));
  w.key("records_by_action").begin_object();
  static constexpr std::string_view actions[] = {"start", "stop", "result", "msg", "unknown"};
  for (size_t i = 0; i < std::size(actions); ++i) w.field(actions[i], get(c.by_action[i]));
  w.end_object();
  w.key("malformed").begin_object();
  for (size_t i = 0; i < malformed_count; ++i)
    w.field(malformed_name(static_cast<Malformed>(i)), get(c.malformed[i]));
  w.end_object();
  w.field("utf8_repaired", get(c.utf8_repaired));
  w.field("duplicates", get(c.duplicates));
  w.field("orphans", get(c.orphans));
  w.field("unknown_records", get(c.unknown_records));
  w.field("failures_unattributed", get(c.failures_unattributed));
  w.field("interrupted", get(c.interrupted));
  w.field("in_flight", static_cast<uint64_t>(ctx.tracker->in_flight()));
  w.field("bytes_read", get(c.bytes_read));
  w.key("queue").begin_object();
  w.field("depth", static_cast<uint64_t>(ctx.writer->queue_depth()));
  w.field("capacity", static_cast<uint64_t>(ctx.writer->queue_capacity()));
  w.field("enqueued", get(c.enqueued));
  w.field("dropped", get(c.dropped));
  w.end_object();
  w.key("writer").begin_object();
  w.field("committed", get(c.committed));
  w.field("batches", get(c.batches));
  w.field("write_errors", get(c.write_errors));
  w.field("pruned_rows", get(c.pruned_rows));
  w.end_object();
  w.key("connections").begin_object();
  w.field("active", get(c.connections_active));
  w.field("total", get(c.connections_total));
  w.field("queries", get(c.queries));
  w.field("writers_rejected", get(c.writers_rejected));
  w.field("over_limit", get(c.connections_over_limit));
  w.field("discarding",
          static_cast<uint64_t>(ctx.server ? ctx.server->discarded_connections() : 0));
  w.field("bytes_discarded", get(c.bytes_discarded));
  w.field("discarded_closed", get(c.discarded_closed));
  w.end_object();
  w.field("stale_files_replaced", ctx.server ? ctx.server->stale_files_replaced() : 0);
  // --writers, so that `nod ingest` can tell before sending records that would be discarded.
  w.key("writer_uids").begin_array();
  if (ctx.server)
    for (uid_t uid : ctx.server->writer_uids()) w.value(static_cast<uint64_t>(uid));
  w.end_array();
}

void register_requests(QueryService& service, const DaemonContext& ctx) {
  service.add("status", [&ctx](std::string_view, JsonWriter& w) { write_status(w, ctx); });
  register_query_requests(service, ctx.db_path);  // query, clean-count, clean-step
}

}  // namespace nixmon::nod
