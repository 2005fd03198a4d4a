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
// query magic is told so in one error line and closed: query clients expect answers, and close.
//
// Thread-safety: adopt() from any thread; the destructor stops the thread and closes everything.
#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/fd.hh"
#include "nod/counters.hh"

namespace nixmon::nod {

class DiscardedWriters {
 public:
  explicit DiscardedWriters(Counters& counters);
  ~DiscardedWriters();
  DiscardedWriters(const DiscardedWriters&) = delete;
  DiscardedWriters& operator=(const DiscardedWriters&) = delete;

  // Takes the connection over. `undecided`: nothing was read from it yet (over the limit), so it
  // may still be a query client.
  void adopt(Fd fd, bool undecided);
  // Connections held now.
  size_t size() const;

 private:
  struct Held {
    Fd fd;
    bool undecided;
    std::string head;  // the first bytes of an undecided one
  };
  void run();
  // Reads what `h` has; false when it is finished (closed by the peer, or answered).
  bool drain(Held& h);

  Counters& counters_;
  Fd epoll_;
  Fd wake_;  // an eventfd: the destructor's word to stop
  mutable std::mutex mu_;
  std::map<int, Held> held_;
  std::thread thread_;
};

}  // namespace nixmon::nod
