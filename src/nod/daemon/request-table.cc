#include "common/version.hh"
#include "daemon/daemon-context.hh"
#include "daemon/socket-server.hh"
#include "query/requests.hh"
#include "store/record-store.hh"

namespace nixmon::nod {

namespace {
uint64_t get(const std::atomic<uint64_t>& c) {
  return c.load(std::memory_order_relaxed);
}
}  // namespace

// The counters come from counter_table(); the live values beside them (in_flight, queue depth,
// held connections) from the parts that own them.
void write_status(JsonWriter& w, const DaemonContext& ctx) {
  const Counters& c = *ctx.counters;
  auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                 ctx.started)
                    .count();
  w.field("version", std::string_view(version));
  w.field("schema_version", schema_version);
  w.field("socket", ctx.socket_path).field("db", ctx.db_path);
  w.field("uptime_seconds", static_cast<int64_t>(uptime));
  for (std::string_view group : counter_groups()) {
    if (group.empty()) {
      w.key("records_by_action").begin_object();
      for (size_t i = 0; i < action_names.size(); ++i)
        w.field(action_names[i], get(c.by_action[i]));
      w.end_object();
      w.key("malformed").begin_object();
      for (size_t i = 0; i < malformed_count; ++i)
        w.field(malformed_name(static_cast<Malformed>(i)), get(c.malformed[i]));
      w.end_object();
      w.field("in_flight", static_cast<uint64_t>(ctx.tracker->in_flight()));
    } else {
      w.key(group).begin_object();
    }
    if (group == "queue") {
      w.field("depth", static_cast<uint64_t>(ctx.writer->queue_depth()));
      w.field("capacity", static_cast<uint64_t>(ctx.writer->queue_capacity()));
    } else if (group == "connections") {
      w.field("discarding",
              static_cast<uint64_t>(ctx.server ? ctx.server->discarded_connections() : 0));
    }
    for (const CounterInfo& info : counter_table())
      if (info.group == group) w.field(info.key, get(c.*info.member));
    if (!group.empty()) w.end_object();
  }
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
