#include "ingest/counters.hh"

#include <fmt/format.h>

namespace nixmon::nod {

namespace {

using K = Counters;
constexpr CounterInfo table[] = {
    {&K::records, "", "records", "nod_records_total", false, "Well-formed log records received."},
    {&K::utf8_repaired, "", "utf8_repaired", "nod_utf8_repaired_records_total", false,
     "Records whose invalid UTF-8 was replaced and kept."},
    {&K::duplicates, "", "duplicates", "nod_duplicate_records_total", false,
     "Records of an activity another connection already reported (a nix client re-sends its "
     "daemon worker's activities with the same ids), or a failure message seen twice."},
    {&K::orphans, "", "orphans", "nod_orphan_records_total", false,
     "Results and stops for an activity id never started (or long finished)."},
    {&K::unknown_records, "", "unknown_records", "nod_unknown_records_total", false,
     "Records of unknown actions and result types (kept raw in the unknown_records table)."},
    {&K::failures_unattributed, "", "failures_unattributed", "nod_failures_unattributed_total",
     false, "Rises of the builds' failed counter with no single running build to blame."},
    {&K::interrupted, "", "interrupted", "nod_interrupted_activities_total", false,
     "Activities still open when the last connection holding them closed."},
    {&K::bytes_read, "", "bytes_read", "nod_read_bytes_total", false, "Bytes read from writers."},
    {&K::enqueued, "queue", "enqueued", "nod_events_enqueued_total", false,
     "Completed activities accepted by the queue to the database writer."},
    {&K::dropped, "queue", "dropped", "nod_events_dropped_total", false,
     "Completed activities dropped because the write queue was full."},
    {&K::committed, "writer", "committed", "nod_events_committed_total", false,
     "Events committed to the database."},
    {&K::batches, "writer", "batches", "nod_write_batches_total", false,
     "Database transactions committed."},
    {&K::write_errors, "writer", "write_errors", "nod_write_errors_total", false,
     "Failed database transactions."},
    {&K::pruned_rows, "writer", "pruned_rows", "nod_pruned_rows_total", false,
     "Rows removed by retention (--retain-days)."},
    {&K::connections_active, "connections", "active", "nod_connections", true,
     "Open connections on the socket."},
    {&K::connections_total, "connections", "total", "nod_connections_accepted_total", false,
     "Connections accepted on the socket (writers and query clients)."},
    {&K::queries, "connections", "queries", "nod_queries_total", false, "Query requests answered."},
    {&K::writers_rejected, "connections", "writers_rejected", "nod_writers_rejected_total", false,
     "Writer connections refused by --writers (read and discarded, not closed)."},
    {&K::connections_over_limit, "connections", "over_limit", "nod_connections_over_limit_total",
     false, "Connections beyond --max-connections (read and discarded, not closed)."},
    {&K::bytes_discarded, "connections", "bytes_discarded", "nod_discarded_bytes_total", false,
     "Bytes read from refused and over-limit connections and dropped."},
    {&K::discarded_closed, "connections", "discarded_closed",
     "nod_discarded_connections_closed_total", false,
     "Refused and over-limit connections closed, the oldest first, because --max-connections "
     "of them were held."},
};

constexpr std::string_view groups[] = {"", "queue", "writer", "connections"};

}  // namespace

std::span<const CounterInfo> counter_table() {
  return table;
}

std::span<const std::string_view> counter_groups() {
  return groups;
}

std::string counter_reference_markdown() {
  std::string out = "| `nod status` key | Prometheus series | meaning |\n|---|---|---|\n";
  for (const CounterInfo& c : table) {
    std::string key = c.group.empty() ? std::string(c.key) : fmt::format("{}.{}", c.group, c.key);
    out += fmt::format("| `{}` | `{}` ({}) | {} |\n", key, c.metric, c.gauge ? "gauge" : "counter",
                       c.help);
  }
  return out;
}

}  // namespace nixmon::nod
