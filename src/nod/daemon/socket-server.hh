#pragma once
// The daemon's Unix socket: Nix (json-log-path) connects as a writer, one connection per `nix`
// process or nix-daemon worker; `nod` query clients connect too (query/protocol.hh). One thread
// per connection reads into a bounded line buffer and hands records to the tracker; it never
// touches the database, so a slow disk never slows a writer. A writer's activity ids are scoped by
// its peer pid (SO_PEERCRED), registered with the tracker when the connection is accepted; a
// replaying writer (`nod ingest`, replay_magic_line) is keyed by Nix's ids alone.
//
// Thread-safety: bind() and serve() from one thread; stop() from any thread (e.g. a signal
// waiter).
#include <sys/socket.h>
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/fd.hh"
#include "daemon/discarded-writers.hh"
#include "ingest/counters.hh"
#include "query/protocol.hh"
#include "tracking/activity-tracker.hh"

namespace nixmon::nod {

struct ServerOptions {
  std::string path = "/tmp/nod.sock";
  // Every user's `nix` writes to the socket and every user may query: like nix-daemon's socket.
  mode_t mode = 0666;
  size_t max_line_bytes = 1 << 20;
  size_t max_connections = 1024;
  gid_t group = static_cast<gid_t>(-1);  // owner group of the socket file; -1: unchanged
  // Writers are identified by SO_PEERCRED (the kernel's word, not the client's): when not empty,
  // a connection that sends records from another uid is refused: counted, and its bytes read and
  // dropped until it hangs up (never closed: discarded-writers.hh).
  std::vector<uid_t> writer_uids;
};

class SocketServer {
 public:
  SocketServer(ServerOptions options, ActivityTracker& tracker, Counters& counters,
               const QueryService& queries);
  // Removes the socket file if it is still ours.
  ~SocketServer();
  SocketServer(const SocketServer&) = delete;
  SocketServer& operator=(const SocketServer&) = delete;

  // Makes the path ours: a live socket means another daemon (Error); a dead socket is removed; a
  // regular file (Nix appends to one when no socket was there) is removed, with a warning saying
  // how many bytes of records it held. Then binds, sets the mode, listens.
  void bind();
  // Accepts until stop(); returns after every connection thread has finished.
  void serve();
  void stop();

  uint64_t stale_files_replaced() const { return stale_files_replaced_; }
  // --writers: the uids whose records are taken; empty: anyone's.
  const std::vector<uid_t>& writer_uids() const { return options_.writer_uids; }
  // Refused and over-limit connections held open now.
  size_t discarded_connections() const { return discarded_.size(); }

 private:
  void connection(Fd fd, std::optional<ucred> peer, ConnectionId tracked);

  ServerOptions options_;
  ActivityTracker& tracker_;
  Counters& counters_;
  const QueryService& queries_;
  Fd listen_fd_;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> stale_files_replaced_{0};
  std::mutex mu_;
  std::condition_variable idle_;
  std::set<int> open_fds_;  // to wake the readers at stop()
  size_t running_ = 0;
  DiscardedWriters discarded_;  // last member: destroyed (and its connections closed) first
};

}  // namespace nixmon::nod
