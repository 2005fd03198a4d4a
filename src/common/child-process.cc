#include "common/child-process.hh"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <optional>

#include "common/duration.hh"
#include "common/error.hh"
#include "common/fd.hh"

extern char** environ;

namespace nixmon {

namespace {

struct Pipe {
  Fd read, write;
};

Pipe make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw SysError("creating a pipe for a child process");
  return {Fd(fds[0]), Fd(fds[1])};
}

// Kills the child's process group and reaps the child unless it was reaped already, whatever
// way the caller leaves.
class ChildGuard {
 public:
  explicit ChildGuard(pid_t pid) : pid_(pid) {}
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  ~ChildGuard() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGKILL);
    int status;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  void kill_group() { ::kill(-pid_, SIGKILL); }
  // The status once the child has exited, nullopt while it runs.
  std::optional<int> try_wait() {
    int status = 0;
    pid_t r;
    while ((r = ::waitpid(pid_, &status, WNOHANG)) < 0) {
      if (errno != EINTR) throw SysError("waiting for a child process");
    }
    if (r == 0) return std::nullopt;
    ::kill(-pid_, SIGKILL);
    pid_ = -1;
    return status;
  }
  int wait() {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0) {
      if (errno != EINTR) throw SysError("waiting for a child process");
    }
    // The group may hold grandchildren that outlive the child (nix forks git): kill them too.
    ::kill(-pid_, SIGKILL);
    pid_ = -1;
    return status;
  }

 private:
  pid_t pid_;
};

class SpawnSetup {
 public:
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
};

}  // namespace

std::string ChildResult::describe(std::chrono::milliseconds timeout) const {
  switch (outcome) {
    case Outcome::exited:
      return fmt::format("exit status {}", exit_code);
    case Outcome::signaled:
      return fmt::format("killed by signal {}", signal);
    case Outcome::timed_out:
      return fmt::format("timed out after {}", format_duration(timeout));
    case Outcome::output_too_large:
      return "output larger than the limit";
    case Outcome::cancelled:
      return "cancelled";
  }
  return "?";
}

ChildResult run_child(const std::vector<std::string>& argv, const ChildLimits& limits) {
  if (argv.empty()) throw Error("run_child: empty argv");
  Pipe out = make_pipe(), err = make_pipe();
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);

  SpawnSetup s;
  posix_spawn_file_actions_addopen(&s.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&s.actions, out.write.get(), 1);
  posix_spawn_file_actions_adddup2(&s.actions, err.write.get(), 2);
  // Sockets of the HTTP server and NATS are not all close-on-exec: the child gets none of them.
  posix_spawn_file_actions_addclosefrom_np(&s.actions, 3);
  sigset_t none, all_defaults;
  sigemptyset(&none);
  sigemptyset(&all_defaults);
  sigaddset(&all_defaults, SIGPIPE);
  sigaddset(&all_defaults, SIGTERM);
  sigaddset(&all_defaults, SIGINT);
  posix_spawnattr_setsigmask(&s.attr, &none);  // main blocks SIGTERM in every thread
  posix_spawnattr_setsigdefault(&s.attr, &all_defaults);
  posix_spawnattr_setpgroup(&s.attr, 0);
  posix_spawnattr_setflags(&s.attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, cargv[0], &s.actions, &s.attr, cargv.data(), environ);
  if (rc != 0) throw SysError(rc, "starting {}", argv[0]);
  ChildGuard child(pid);
  out.write.reset();
  err.write.reset();

  ChildResult result;
  auto deadline = std::chrono::steady_clock::now() + limits.timeout;
  bool out_open = true, err_open = true;
  char buf[65536];
  while (out_open || err_open) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      child.kill_group();
      child.wait();
      result.outcome = ChildResult::Outcome::timed_out;
      return result;
    }
    pollfd fds[3] = {{out_open ? out.read.get() : -1, POLLIN, 0},
                     {err_open ? err.read.get() : -1, POLLIN, 0},
                     {limits.cancel_fd, POLLIN, 0}};
    int n = ::poll(fds, 3, static_cast<int>(std::min<long long>(left.count(), 1 << 30)));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SysError("waiting for a child's output");
    }
    if (limits.cancel_fd >= 0 && (fds[2].revents & (POLLIN | POLLHUP))) {
      child.kill_group();
      child.wait();
      result.outcome = ChildResult::Outcome::cancelled;
      return result;
    }
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        (i == 0 ? out_open : err_open) = false;
        continue;
      }
      if (i == 0) {
        if (result.out.size() + got > limits.max_stdout) {
          child.kill_group();
          child.wait();
          result.out.clear();
          result.outcome = ChildResult::Outcome::output_too_large;
          return result;
        }
        result.out.append(buf, got);
      } else {
        auto room = limits.max_stderr - std::min(limits.max_stderr, result.err.size());
        result.err.append(buf, std::min<std::size_t>(room, got));
      }
    }
  }
  // Both pipes are closed; a child may still run after closing them, so keep the deadline.
  int status;
  for (;;) {
    if (auto st = child.try_wait()) {
      status = *st;
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      child.kill_group();
      child.wait();
      result.outcome = ChildResult::Outcome::timed_out;
      return result;
    }
    pollfd cancel{limits.cancel_fd, POLLIN, 0};
    if (::poll(&cancel, 1, 10) > 0 && (cancel.revents & (POLLIN | POLLHUP))) {
      child.kill_group();
      child.wait();
      result.outcome = ChildResult::Outcome::cancelled;
      return result;
    }
  }
  if (WIFEXITED(status)) {
    result.outcome = ChildResult::Outcome::exited;
    result.exit_code = WEXITSTATUS(status);
  } else {
    result.outcome = ChildResult::Outcome::signaled;
    result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }
  return result;
}

}  // namespace nixmon
