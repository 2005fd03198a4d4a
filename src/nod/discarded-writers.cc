#include "nod/discarded-writers.hh"

#include <fmt/format.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/error.hh"
#include "common/log.hh"
#include "nod/query-protocol.hh"

namespace nixmon::nod {

DiscardedWriters::DiscardedWriters(Counters& counters)
    : counters_(counters),
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
  auto [it, inserted] = held_.emplace(raw, Held{std::move(fd), undecided, {}});
  if (!inserted) return;  // cannot happen: a descriptor number is held once
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.fd = raw;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, raw, &ev) != 0) {
    log::warn("cannot watch a discarded connection: {}", std::strerror(errno));
    held_.erase(it);  // closes it: nothing else can be done with it
  }
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
    h.head.append(buf, std::min<size_t>(n, query_magic_prefix.size() - h.head.size()));
    if (h.head.size() == query_magic_prefix.size() || h.head.find('\n') != std::string::npos) {
      h.undecided = false;
      if (h.head == query_magic_prefix) {
        std::string err =
            R"({"ok":false,"error":"the daemon has --max-connections connections open; try again later"})"
            "\n";
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
      if (!drain(it->second)) {
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
        held_.erase(it);
      }
    }
  }
}

}  // namespace nixmon::nod
