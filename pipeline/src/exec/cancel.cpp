// Cancellation: one process-wide flag, set from signal handlers (hence lock-free atomics only).
#include <signal.h>

#include <atomic>

#include "exec/cancel_flag.h"
#include "retort/exec/executor.h"

namespace retort::exec {
namespace {

std::atomic<bool> g_cancel{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");

extern "C" void on_stop_signal(int sig) {
  if (g_cancel.exchange(true)) {
    // Second signal: the user insists; die the default way.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
  }
}

}  // namespace

const std::atomic<bool>* cancel_flag() {
  return &g_cancel;
}

void install_signal_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

void request_cancel() {
  g_cancel.store(true);
}
bool cancel_requested() {
  return g_cancel.load();
}
void clear_cancel() {
  g_cancel.store(false);
}

}  // namespace retort::exec
