// LD_PRELOAD shim for nod's slow-disk benchmark: every fsync/fdatasync sleeps SLOW_FSYNC_MS
// (default 500) before doing the real call, as a throttled or overloaded disk would.
#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>

namespace {
void stall() {
  const char* ms = std::getenv("SLOW_FSYNC_MS");
  usleep(1000 * (ms ? std::atoi(ms) : 500));
}
}  // namespace

extern "C" int fsync(int fd) {
  stall();
  static auto real = reinterpret_cast<int (*)(int)>(dlsym(RTLD_NEXT, "fsync"));
  return real(fd);
}

extern "C" int fdatasync(int fd) {
  stall();
  static auto real = reinterpret_cast<int (*)(int)>(dlsym(RTLD_NEXT, "fdatasync"));
  return real(fd);
}
