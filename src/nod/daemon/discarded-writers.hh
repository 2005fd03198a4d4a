#pragma once
// Connections nod will not record but must not close: a writer refused by --writers, and any
// connection beyond --max-connections. Nix (2.30 to at least 2.35) turns its JSON logger off for
// the rest of the process after one failed write, and never reconnects (logging.cc,
// JSONLogger::write): closing such a connection would silently end the stream of a long-lived
// `nix` process or nix-daemon worker, also after it became acceptable again. So their bytes are
// read and dropped (and counted) until the writer hangs up.
//
// One thread and one epoll set for all of them, so a flood of refused connections costs file
// descriptors, not threads. A connection beyond the limit whose first line turns out to be the
// query or the replay magic is told so in one error line and closed: query clients expect
// answers, and a replaying `nod ingest` must fail rather than report records nobody kept; neither
// is Nix, so closing disables nothing.
//
// At most `capacity` connections are held: beyond it the oldest is closed (adopt() says why).
//
// Thread-safety: adopt() from any thread; the destructor stops the thread and closes everything.
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/fd.hh"
#include "ingest/counters.hh"

namespace nixmon::nod {

class DiscardedWriters {
 public:
  // `capacity`: connections held at most (at least 1).
  DiscardedWriters(Counters& counters, size_t capacity);
  ~DiscardedWriters();
  DiscardedWriters(const DiscardedWriters&) = delete;
  DiscardedWriters& operator=(const DiscardedWriters&) = delete;

  // Takes the connection over, closing the oldest held one when `capacity` are held.
  // `undecided`: nothing was read from it yet (over the limit), so it may still be a query
  // client or a replay.
  void adopt(Fd fd, bool undecided);
  // Connections held now.
  size_t size() const;

 private:
  struct Held {
    Fd fd;
    bool undecided;
    uint64_t seq;      // adoption order: the key of this one in order_
    std::string head;  // the first bytes of an undecided one
  };
  void run();
  // Reads what `h` has; false when it is finished (closed by the peer, or answered).
  bool drain(Held& h);
  // Stops watching the held connection `it` and closes it. mu_ held.
  void release(std::map<int, Held>::iterator it);

  Counters& counters_;
  const size_t capacity_;
  Fd epoll_;
  Fd wake_;  // an eventfd: the destructor's word to stop
  mutable std::mutex mu_;
  std::map<int, Held> held_;       // by descriptor
  std::map<uint64_t, int> order_;  // adoption order -> descriptor: the oldest first
  uint64_t next_seq_ = 0;
  std::thread thread_;
};

}  // namespace nixmon::nod
