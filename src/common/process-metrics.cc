#include "common/process-metrics.hh"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace nixmon {

namespace {

// A /proc file, without iostreams (this runs on every scrape). /proc/stat's interrupt line makes it
// larger than a page on most machines, so read to the end.
std::optional<std::string> slurp(const char* path) {
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  std::size_t used = 0;
  for (;;) {
    out.resize(used + 4096);
    ssize_t n = ::read(fd, out.data() + used, 4096);
    if (n <= 0 || used > (1 << 20)) {
      ::close(fd);
      if (n < 0) return std::nullopt;
      break;
    }
    used += static_cast<std::size_t>(n);
  }
  out.resize(used);
  return out;
}

// The fields of /proc/self/stat after "(comm)" (proc(5) numbers them from 3, state).
std::vector<std::string_view> stat_fields(std::string_view text) {
  std::vector<std::string_view> out;
  auto close = text.rfind(')');  // comm may contain spaces and parentheses
  if (close == std::string_view::npos) return out;
  std::string_view rest = text.substr(close + 1);
  std::size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    std::size_t j = rest.find(' ', i);
    if (j == std::string_view::npos) j = rest.size();
    if (j > i) out.push_back(rest.substr(i, j - i));
    i = j;
  }
  return out;
}

std::optional<double> number(std::string_view s) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return static_cast<double>(v);
}

// btime of /proc/stat: when the machine booted, in Unix seconds.
std::optional<double> boot_time() {
  auto text = slurp("/proc/stat");
  if (!text) return std::nullopt;
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("btime ", 0) == 0) return number(std::string_view(line).substr(6));
  return std::nullopt;
}

std::optional<double> open_fds() {
  // Linux 6.2 and later give the count as the directory's size (procfs uses the same fast path).
  struct stat st;
  if (::stat("/proc/self/fd", &st) == 0 && st.st_size > 0) return static_cast<double>(st.st_size);
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return std::nullopt;
  double n = 0;
  while (const dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

double soft_limit(int resource, bool& ok) {
  rlimit r{};
  ok = ::getrlimit(resource, &r) == 0;
  // RLIM_INFINITY is 2^64-1, the figure procfs gives "unlimited".
  return static_cast<double>(r.rlim_cur);
}

}  // namespace

void add_process_metrics(MetricSet& out) {
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));  // USER_HZ, 100 on Linux
  if (auto text = slurp("/proc/self/stat")) {
    // Fields 14 utime, 15 stime, 22 starttime, 23 vsize, 24 rss; index 0 here is field 3.
    auto f = stat_fields(*text);
    if (f.size() > 21) {
      auto utime = number(f[11]), stime = number(f[12]);
      auto start = number(f[19]), vsize = number(f[20]), rss = number(f[21]);
      if (utime && stime && ticks > 0)
        out.counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                    (*utime + *stime) / ticks);
      if (vsize) out.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", *vsize);
      if (rss)
        out.gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
                  *rss * static_cast<double>(::sysconf(_SC_PAGESIZE)));
      // Boot time and start time do not change while the process lives: read once.
      static const std::optional<double> booted = boot_time();
      if (start && booted && ticks > 0)
        out.gauge("process_start_time_seconds",
                  "Start time of the process since unix epoch in seconds.",
                  *booted + *start / ticks);
    }
  }
  if (auto n = open_fds()) out.gauge("process_open_fds", "Number of open file descriptors.", *n);
  bool ok = false;
  double max_fds = soft_limit(RLIMIT_NOFILE, ok);
  if (ok) out.gauge("process_max_fds", "Maximum number of open file descriptors.", max_fds);
  double max_vm = soft_limit(RLIMIT_AS, ok);
  if (ok)
    out.gauge("process_virtual_memory_max_bytes",
              "Maximum amount of virtual memory available in bytes.", max_vm);
}

}  // namespace nixmon
