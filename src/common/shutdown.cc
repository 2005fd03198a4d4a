#include "common/shutdown.hh"

#include <pthread.h>
#include <signal.h>

#include "common/error.hh"

namespace nixmon {

namespace {
sigset_t shutdown_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}
}  // namespace

ShutdownSignals::ShutdownSignals() {
  sigset_t set = shutdown_set();
  if (int err = pthread_sigmask(SIG_BLOCK, &set, nullptr))
    throw SysError(err, "cannot block signals");
}

void ShutdownSignals::on_signal(std::function<void(int)> callback) {
  waiter_ = std::thread([this, callback = std::move(callback)] {
    sigset_t set = shutdown_set();
    int sig = 0;
    if (sigwait(&set, &sig) == 0 && !closing_) callback(sig);
  });
}

ShutdownSignals::~ShutdownSignals() {
  if (waiter_.joinable()) {
    closing_ = true;
    // If no signal came (main is returning for another reason), wake the waiter with one.
    pthread_kill(waiter_.native_handle(), SIGTERM);
    waiter_.join();
  }
}

}  // namespace nixmon
