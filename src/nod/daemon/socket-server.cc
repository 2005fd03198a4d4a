#include "daemon/socket-server.hh"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "common/error.hh"
#include "common/log.hh"
#include "ingest/line-splitter.hh"
#include "tracking/log-session.hh"

namespace nixmon::nod {

namespace {

sockaddr_un address_of(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path))
    throw UsageError(fmt::format("socket path '{}' is empty or longer than {} bytes", path,
                                 sizeof(addr.sun_path) - 1));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(n);
  }
  return true;
}

}  // namespace

SocketServer::SocketServer(ServerOptions options, ActivityTracker& tracker, Counters& counters,
                           const QueryService& queries)
    : options_(std::move(options)),
      tracker_(tracker),
      counters_(counters),
      queries_(queries),
      discarded_(counters, options_.max_connections) {}

SocketServer::~SocketServer() {
  // Only unlink what we created: a newer daemon may have replaced it.
  struct stat st {};
  if (listen_fd_ && ::lstat(options_.path.c_str(), &st) == 0 && st.st_dev == dev_ &&
      st.st_ino == ino_)
    ::unlink(options_.path.c_str());
}

void SocketServer::bind() {
  sockaddr_un addr = address_of(options_.path);
  struct stat st {};
  if (::lstat(options_.path.c_str(), &st) == 0) {
    if (S_ISSOCK(st.st_mode)) {
      Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0)
        throw Error(
            fmt::format("another process is listening on '{}' (is nod running?)", options_.path));
      log::info("removing dead socket '{}'", options_.path);
    } else if (S_ISREG(st.st_mode)) {
      // Nix opens json-log-path as a file (O_APPEND) when no socket is there: the records in it
      // have no time, so they cannot be dated; say how much is lost and take the path back.
      log::warn(
          "replacing the regular file at '{}' ({} bytes of records Nix wrote while no nod "
          "was listening; they carry no time and are not ingested)",
          options_.path, st.st_size);
      stale_files_replaced_.fetch_add(1);
    } else {
      throw Error(
          fmt::format("'{}' exists and is neither a socket nor a regular file: not "
                      "removing it",
                      options_.path));
    }
    if (::unlink(options_.path.c_str()) != 0 && errno != ENOENT)
      throw SysError("cannot remove '{}'", options_.path);
  }
  listen_fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listen_fd_) throw SysError("cannot create a Unix socket");
  if (::bind(listen_fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw SysError("cannot bind '{}'", options_.path);
  if (::chmod(options_.path.c_str(), options_.mode) != 0)
    throw SysError("cannot set mode {:o} on '{}'", options_.mode, options_.path);
  if (options_.group != static_cast<gid_t>(-1) &&
      ::chown(options_.path.c_str(), static_cast<uid_t>(-1), options_.group) != 0)
    throw SysError("cannot give '{}' to group {}", options_.path, options_.group);
  if (::lstat(options_.path.c_str(), &st) == 0) {
    dev_ = st.st_dev;
    ino_ = st.st_ino;
  }
  if (::listen(listen_fd_.get(), 128) != 0) throw SysError("cannot listen on '{}'", options_.path);
}

void SocketServer::stop() {
  stopping_ = true;
  std::lock_guard lock(mu_);
  // shutdown() wakes a thread blocked in accept() or read() on the fd, unlike close().
  if (listen_fd_) ::shutdown(listen_fd_.get(), SHUT_RDWR);
  for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
}

void SocketServer::serve() {
  while (!stopping_) {
    int fd = ::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (stopping_) break;
      if (errno == EMFILE || errno == ENFILE) {
        log::warn("accept on '{}': {}; retrying", options_.path, std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      throw SysError("accept on '{}'", options_.path);
    }
    Fd conn(fd);
    std::unique_lock lock(mu_);
    if (running_ >= options_.max_connections) {
      lock.unlock();
      // Not closed: it is most likely a Nix writer, which would stop logging for good (unless
      // --max-connections are held already: DiscardedWriters closes the oldest).
      uint64_t n = counters_.connections_over_limit.fetch_add(1, std::memory_order_relaxed) + 1;
      if ((n & (n - 1)) == 0)  // 1, 2, 4, ...: a flood does not flood the log
        log::warn(
            "{} connection(s) over the limit of {} so far: reading and discarding their records", n,
            options_.max_connections);
      discarded_.adopt(std::move(conn), true);
      continue;
    }
    ++running_;
    open_fds_.insert(fd);
    if (stopping_) ::shutdown(fd, SHUT_RDWR);
    lock.unlock();
    std::optional<ucred> peer;
    ucred cred{};
    socklen_t cred_len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) == 0) {
      peer = cred;
      log::debug("connection from pid {} uid {} gid {}", cred.pid, cred.uid, cred.gid);
    }
    // The writer's id space is registered now, in accept order, not at its first line on its own
    // thread. Nix connects its JSON logger when it creates it, before its first activity
    // (makeJSONLogger in src/libutil/logging.cc, NixOS/nix 2.30.0 line 326, 2.35.2 line 378); a
    // nix-daemon worker does so at its start, right after the handshake (applyJSONLogger in
    // processConnection, src/libstore/daemon.cc, 2.30.0 line 1052, 2.35.2 line 1059), and only
    // then tells its `nix` client anything. So the worker is accepted here before its client can
    // relay one of its records; but the two connections are read by two threads, and the client's
    // copy of a record may be handled before the worker's own first line: if the worker's pid
    // were registered only then, that copy would be taken for a stranger's activity (the client's
    // relay scope) and the activity counted twice. A query client's registration is dropped when
    // its first line shows what it is.
    ConnectionId tracked = tracker_.open_connection(
        peer ? WriterIdentity{.pid = peer->pid, .uid = peer->uid} : WriterIdentity{});
    // Detached: the thread count is tracked in running_, and serve() waits for it to reach 0.
    std::thread([this, c = std::move(conn), peer, tracked]() mutable {
      connection(std::move(c), peer, tracked);
    }).detach();
  }
  std::unique_lock lock(mu_);
  for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
  idle_.wait(lock, [&] { return running_ == 0; });
}

void SocketServer::connection(Fd fd, std::optional<ucred> peer, ConnectionId tracked) {
  counters_.connections_total.fetch_add(1, std::memory_order_relaxed);
  counters_.connections_active.fetch_add(1, std::memory_order_relaxed);
  struct Handler {
    SocketServer& server;
    int fd;
    std::optional<ucred> peer;  // SO_PEERCRED at connect time
    // Opened at accept as the peer's writer connection; closed here unless a session took it.
    std::optional<ConnectionId> tracked;
    // refused: a writer --writers excludes, handed to DiscardedWriters after this read.
    enum class Kind { undecided, writer, query, closing, refused } kind = Kind::undecided;
    std::optional<LogSession> session;
    Stamp stamp;

    void untrack() {
      if (tracked) server.tracker_.close_connection(*tracked, Stamp::now(server.tracker_.clock()));
      tracked.reset();
    }

    // A connection that turns out to be a writer: allowed unless --writers excludes its uid.
    // A replay (`nod ingest`) is keyed by Nix's ids alone, not as the ingesting process's own.
    bool become_writer(bool replay) {
      const auto& allowed = server.options_.writer_uids;
      if (!allowed.empty() &&
          (!peer || std::find(allowed.begin(), allowed.end(), peer->uid) == allowed.end())) {
        server.counters_.writers_rejected.fetch_add(1, std::memory_order_relaxed);
        log::warn(
            "refusing log records from pid {} uid {}: not one of --writers (reading and "
            "discarding them until it hangs up)",
            peer ? peer->pid : 0, peer ? static_cast<long>(peer->uid) : -1L);
        kind = Kind::refused;
        untrack();
        return false;
      }
      kind = Kind::writer;
      if (replay) {
        untrack();
        session.emplace(server.tracker_, server.counters_, LogSession::Input::json_log_path,
                        WriterIdentity{});
      } else {
        session.emplace(server.tracker_, server.counters_, LogSession::Input::json_log_path,
                        *tracked);
        tracked.reset();
      }
      return true;
    }

    void line(std::string_view l, size_t capacity) {
      if (kind == Kind::undecided) {
        if (l.starts_with(replay_magic_prefix)) {
          if (l == replay_magic_line) {
            become_writer(true);
          } else {
            // Not a record either: the replaying `nod ingest` is newer than this daemon.
            log::warn("unsupported replay protocol '{}' from pid {}: this daemon speaks {}",
                      l.substr(0, 32), peer ? peer->pid : 0, replay_magic_line);
            untrack();
            kind = Kind::closing;
          }
          return;
        }
        if (l.starts_with(query_magic_prefix)) {
          untrack();
          kind = Kind::query;
          if (l != query_magic_line()) {
            // The client's bytes go through the JSON writer: `NOD-QUERY 9"}\x` once made an
            // answer that was not JSON.
            // An older or newer CLI: say which versions met, and what to do about it.
            send_all(fd, error_reply(fmt::format("unsupported query protocol '{}': this daemon "
                                                 "speaks {} (the nod CLI and the daemon are "
                                                 "different versions: use the nod of the "
                                                 "running daemon, or restart the daemon)",
                                                 l.substr(query_magic_prefix.size(), 16),
                                                 query_magic_line())) +
                             "\n");
            kind = Kind::closing;
          }
          return;
        }
        if (!become_writer(false)) return;
      }
      if (kind == Kind::writer) {
        session->set_stamp(stamp);
        session->line(l, capacity);
      } else if (kind == Kind::query) {
        server.counters_.queries.fetch_add(1, std::memory_order_relaxed);
        if (!send_all(fd, server.queries_.answer(l) + "\n")) kind = Kind::closing;
      }
    }
    void too_long() {
      if (kind == Kind::undecided && !become_writer(false)) return;
      if (session) session->too_long();
    }
  } handler{*this, fd.get(), peer, tracked, Handler::Kind::undecided, std::nullopt, Stamp{}};

  LineSplitter splitter(options_.max_line_bytes);
  for (;;) {
    auto buf = splitter.writable();
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    counters_.bytes_read.fetch_add(n, std::memory_order_relaxed);
    // One stamp per read: the bytes of one read arrived together.
    handler.stamp = Stamp::now(tracker_.clock());
    splitter.commit(n, handler);
    if (handler.kind == Handler::Kind::closing || handler.kind == Handler::Kind::refused) break;
  }
  if (handler.kind != Handler::Kind::closing && handler.kind != Handler::Kind::refused) {
    handler.stamp = Stamp::now(tracker_.clock());
    splitter.finish(handler);
  }
  handler.session.reset();  // interrupted activities are recorded now
  handler.untrack();        // it hung up before its first line
  counters_.connections_active.fetch_sub(1, std::memory_order_relaxed);
  std::lock_guard lock(mu_);
  open_fds_.erase(fd.get());
  if (handler.kind == Handler::Kind::refused && !stopping_)
    discarded_.adopt(std::move(fd), false);  // frees this thread and its connection slot
  fd.reset();
  --running_;
  idle_.notify_all();
}

}  // namespace nixmon::nod
