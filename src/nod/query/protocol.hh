#pragma once
// The query side of nod's socket (docs/nod-protocol.md). A connection whose first line is the
// query magic line below is a query client; one whose first line is the replay line is a writer
// replaying another process's records; anything else is a Nix writer. After the query magic line
// the client sends requests, one JSON object per line ({"request":"status", ...}); the daemon
// answers each with one JSON line: {"ok":true,"result":{...}} or {"ok":false,"error":"..."}.
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "common/error.hh"
#include "common/json-writer.hh"

namespace nixmon::nod {

inline constexpr std::string_view query_magic_prefix = "NOD-QUERY ";
// 2: "query" answers with the report as data, the CLI renders it (1 answered rendered text).
inline constexpr int query_protocol_version = 2;
std::string query_magic_line();  // "NOD-QUERY 2"

// {"ok":false,"error":message}, one line without '\n'; `message` may hold any bytes (it is
// escaped and repaired as UTF-8 by the JSON writer).
std::string error_reply(std::string_view message);

// The first line of a writer that replays records another process wrote (`nod ingest` sending a
// capture through the daemon): its activities are keyed by Nix's ids alone, not by its own pid,
// so the same capture sent twice is counted once (docs/nod-protocol.md).
inline constexpr std::string_view replay_magic_prefix = "NOD-REPLAY ";
inline constexpr std::string_view replay_magic_line = "NOD-REPLAY 1";

// Writes the request's answer into `result` (the "result" object is open), or throws Error (the
// answer is then {"ok":false,"error":...}). `request` is the whole request line, JSON.
using RequestHandler = std::function<void(std::string_view request, JsonWriter& result)>;

// Answers request lines with the registered handlers. Thread-safe once built (handlers must be).
class QueryService {
 public:
  // The one table of requests: the queries (summary, regressions, clean, failures, builds, ...) are
  // added here, by name.
  void add(std::string name, RequestHandler handler);
  // One request line -> one response line (no '\n'). Never throws.
  std::string answer(std::string_view request_line) const;

 private:
  std::map<std::string, RequestHandler, std::less<>> handlers_;
};

// The client side: one connection to the daemon. Throws SysError when it cannot connect (see
// no_daemon_answers) or cannot send the first line.
class QueryClient {
 public:
  explicit QueryClient(const std::string& socket_path);
  // Sends one request line, returns the response line.
  std::string request(std::string_view json);

 private:
  int fd_;
  std::string pending_;
  std::string path_;

 public:
  ~QueryClient();
  QueryClient(const QueryClient&) = delete;
  QueryClient& operator=(const QueryClient&) = delete;
};

// Whether a QueryClient's SysError means that no daemon is there: no socket file (ENOENT,
// ENOTDIR) or a
// socket nobody listens on (ECONNREFUSED). Anything else (EACCES, EMFILE, ...) is a daemon or a
// system that could not be asked, and is reported as an error, not taken for "no daemon".
bool no_daemon_answers(const SysError& e);

}  // namespace nixmon::nod
