#include "daemon/discarded-writers.hh"

#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "common/error.hh"
#include "common/log.hh"
#include "query/protocol.hh"

namespace nixmon::nod {

DiscardedWriters::DiscardedWriters(Counters& counters, size_t capacity)
    : counters_(counters),
      capacity_(std::max<size_t>(capacity, 1)),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!epoll_ || !wake_) throw SysError("cannot create the epoll set for discarded connections");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) != 0)
    throw SysError("cannot watch the eventfd");
  thread_ = std::thread([this] { run(); });
}

DiscardedWriters::~DiscardedWriters() {
  uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  thread_.join();
}

void DiscardedWriters::adopt(Fd fd, bool undecided) {
  int raw = fd.get();
  std::lock_guard lock(mu_);
  // Held without bound, these took every descriptor up to RLIMIT_NOFILE (1024 by default under
  // systemd): accept() then failed with EMFILE, new Nix writers waited in the backlog and blocked
  // in write(), and SQLite could not open the database for queries. Closing one held connection
  // costs less: its records were being dropped anyway, and its writer loses only the rest of
  // that stream (Nix turns its JSON logger off after the failed write). The oldest goes, not the
  // new one: the new one may be a query client or a replay owed its one error line, and closing
  // new ones would let whoever filled the set first (a stuck or hostile peer) keep it, while
  // oldest-first makes a flood push out its own connections.
  while (held_.size() >= capacity_) {
    release(held_.find(order_.begin()->second));
    uint64_t n = counters_.discarded_closed.fetch_add(1, std::memory_order_relaxed) + 1;
    if ((n & (n - 1)) == 0)  // 1, 2, 4, ...: a flood does not flood the log
      log::warn(
          "{} discarded connection(s) closed so far: {} were held, the most nod holds; the "
          "oldest goes (a Nix writer among them stops logging)",
          n, capacity_);
  }
  uint64_t seq = next_seq_++;
  auto [it, inserted] = held_.emplace(raw, Held{std::move(fd), undecided, seq, {}});
  if (!inserted) return;  // cannot happen: a descriptor number is held once
  order_.emplace(seq, raw);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = raw;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, raw, &ev) != 0) {
    log::warn("cannot watch a discarded connection: {}", std::strerror(errno));
    order_.erase(seq);
    held_.erase(it);  // closes it: nothing else can be done with it
  }
}

void DiscardedWriters::release(std::map<int, Held>::iterator it) {
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->first, nullptr);
  order_.erase(it->second.seq);
  held_.erase(it);  // closes it
}

size_t DiscardedWriters::size() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

bool DiscardedWriters::drain(Held& h) {
  char buf[65536];
  ssize_t n = ::recv(h.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0) return errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK;
  if (n == 0) return false;
  counters_.bytes_read.fetch_add(n, std::memory_order_relaxed);
  counters_.bytes_discarded.fetch_add(n, std::memory_order_relaxed);
  if (h.undecided) {
    // Enough of the first line to tell "NOD-QUERY " and "NOD-REPLAY " from a Nix record.
    constexpr size_t magic = std::max(query_magic_prefix.size(), replay_magic_prefix.size());
    h.head.append(buf, std::min<size_t>(n, magic - h.head.size()));
    if (h.head.size() == magic || h.head.find('\n') != std::string::npos) {
      h.undecided = false;
      std::string_view head = h.head;
      std::string err;
      if (head.starts_with(query_magic_prefix))
        err = error_reply("the daemon has --max-connections connections open; try again later");
      else if (head.starts_with(replay_magic_prefix))
        err = error_reply(
            "the daemon has --max-connections connections open: it recorded none of these "
            "records; try again later");
      if (!err.empty()) {
        err += '\n';
        (void)!::send(h.fd.get(), err.data(), err.size(), MSG_NOSIGNAL);
        return false;
      }
    }
  }
  return true;
}

void DiscardedWriters::run() {
  epoll_event events[64];
  for (;;) {
    int n = ::epoll_wait(epoll_.get(), events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      log::error("epoll_wait on discarded connections: {}", std::strerror(errno));
      return;
    }
    std::lock_guard lock(mu_);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (fd == wake_.get()) return;  // the destructor: held_ closes everything
      auto it = held_.find(fd);
      if (it == held_.end()) continue;
      if (!drain(it->second)) release(it);
    }
  }
}

}  // namespace nixmon::nod
