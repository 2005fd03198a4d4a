// nod's ingest benchmark: a synthetic json-log-path stream into a Unix socket, sent the way Nix
// sends it (one write() per record, blocking), over several connections at once.
//
//   nod-socket-bench sink PATH                 a server that reads and discards (the transport's
//                                              limit); answers each connection's EOF with the
//                                              number of lines it read
//   nod-socket-bench send PATH [--records N] [--connections C] [--nod]
//                                              sends N records over C connections; with --nod,
//                                              waits until the daemon's status counts them all
//
// Prints one JSON line: records, bytes, seconds, records_per_second and the writers' blocked
// time per write() (max, p99.9, count over 1 ms), which is what Nix would feel.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "nod-bench-stream.hh"

namespace {

using Clock = std::chrono::steady_clock;

int connect_to(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  return fd;
}

void write_all(int fd, const char* p, size_t n) {
  while (n) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      std::perror("write");
      std::exit(1);
    }
    p += w;
    n -= w;
  }
}

int sink(const std::string& path) {
  ::unlink(path.c_str());
  int lfd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(lfd, 128) != 0) {
    std::perror("bind");
    return 1;
  }
  for (;;) {
    int fd = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::thread([fd] {
      std::vector<char> buf(64 * 1024);
      uint64_t lines = 0;
      for (;;) {
        ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n <= 0) break;
        // Count lines, as the least any consumer of a line protocol must do.
        for (const char* p = buf.data();
             (p = static_cast<const char*>(std::memchr(p, '\n', buf.data() + n - p))); ++p)
          ++lines;
      }
      std::string reply = std::to_string(lines) + "\n";
      write_all(fd, reply.data(), reply.size());
      ::close(fd);
    }).detach();
  }
}

std::string nod_status(const std::string& path) {
  int fd = connect_to(path);
  std::string req = "NOD-QUERY 2\n{\"request\":\"status\"}\n";
  write_all(fd, req.data(), req.size());
  std::string out;
  char buf[8192];
  while (out.find('\n') == std::string::npos) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, n);
  }
  ::close(fd);
  return out;
}

uint64_t json_number(const std::string& s, const std::string& key) {
  auto p = s.find("\"" + key + "\":");
  if (p == std::string::npos) return 0;
  return std::stoull(s.substr(p + key.size() + 3));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "sink") return sink(argv[2]);
  if (argc < 3 || std::string(argv[1]) != "send") {
    std::fprintf(stderr,
                 "usage: %s sink PATH | send PATH [--records N] [--connections C] [--nod]\n",
                 argv[0]);
    return 2;
  }
  std::string path = argv[2];
  size_t records = 1000000;
  unsigned conns = 4;
  bool nod = false;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--records" && i + 1 < argc)
      records = std::stoull(argv[++i]);
    else if (a == "--connections" && i + 1 < argc)
      conns = std::stoul(argv[++i]);
    else if (a == "--nod")
      nod = true;
  }
  std::vector<std::vector<std::string>> streams;
  uint64_t bytes = 0;
  for (unsigned c = 0; c < conns; ++c) {
    streams.push_back(make_stream(c, records / conns));
    for (auto& l : streams.back()) bytes += l.size();
  }
  size_t total = (records / conns) * conns;
  uint64_t before = nod ? json_number(nod_status(path), "records") : 0;

  std::vector<int> fds;
  for (unsigned c = 0; c < conns; ++c) fds.push_back(connect_to(path));
  std::vector<std::vector<uint32_t>> blocked_us(conns);  // per write
  std::atomic<int> ready{0};
  auto t0 = Clock::now();
  std::vector<std::thread> threads;
  for (unsigned c = 0; c < conns; ++c) {
    threads.emplace_back([&, c] {
      auto& lat = blocked_us[c];
      lat.reserve(streams[c].size());
      for (auto& l : streams[c]) {
        auto w0 = Clock::now();
        write_all(fds[c], l.data(), l.size());
        lat.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - w0).count()));
      }
      ::shutdown(fds[c], SHUT_WR);
    });
  }
  for (auto& t : threads) t.join();
  auto t_written = Clock::now();
  if (nod) {
    // Done when the daemon has parsed and tracked every record.
    while (json_number(nod_status(path), "records") < before + total)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  } else {
    for (int fd : fds) {
      char buf[64];
      [[maybe_unused]] auto n = ::read(fd, buf, sizeof buf);  // the sink's EOF answer
    }
  }
  auto t1 = Clock::now();
  for (int fd : fds) ::close(fd);
  std::vector<uint32_t> all;
  for (auto& v : blocked_us) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  size_t over_1ms = all.end() - std::upper_bound(all.begin(), all.end(), 1000u);
  double secs = std::chrono::duration<double>(t1 - t0).count();
  std::printf(
      "{\"target\":\"%s\",\"records\":%zu,\"bytes\":%llu,\"connections\":%u,\"seconds\":%.3f,"
      "\"write_seconds\":%.3f,\"records_per_second\":%.0f,\"blocked_us_max\":%u,"
      "\"blocked_us_p999\":%u,\"writes_blocked_over_1ms\":%zu}\n",
      nod ? "nod" : "sink", total, (unsigned long long)bytes, conns, secs,
      std::chrono::duration<double>(t_written - t0).count(), total / secs, all.back(),
      all[all.size() * 999 / 1000], over_1ms);
  return 0;
}
