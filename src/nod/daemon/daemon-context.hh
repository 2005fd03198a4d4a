#pragma once
// What the daemon's query requests may look at. Owned by run_daemon; every pointer outlives the
// socket server that calls the requests.
#include <chrono>
#include <string>

#include "ingest/counters.hh"
#include "query/protocol.hh"
#include "store/record-writer.hh"
#include "tracking/activity-tracker.hh"

namespace nixmon::nod {

class SocketServer;

struct DaemonContext {
  std::string socket_path;
  std::string db_path;
  const Counters* counters = nullptr;
  const RecordWriter* writer = nullptr;
  const ActivityTracker* tracker = nullptr;
  const SocketServer* server = nullptr;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// THE table of query requests (docs/nod-protocol.md lists them). The query CLI's requests go here.
void register_requests(QueryService& service, const DaemonContext& ctx);

// The "status" answer's body, also used by tests.
void write_status(JsonWriter& w, const DaemonContext& ctx);

}  // namespace nixmon::nod
