// Cancellation: one process-wide flag, set from signal handlers (hence lock-free atomics only).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstring>

#include "exec/cancel_flag.h"
#include "retort/exec/executor.h"

namespace retort::exec {
namespace {

std::atomic<bool> g_cancel{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the signal handler needs a lock-free flag");

// The scratch folder to remove should a second signal end the process (set_scratch_folder).
char g_scratch[PATH_MAX];
std::atomic<bool> g_has_scratch{false};

bool is_dot_or_dotdot(const char* name) {
  return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

// Removes `name` in the folder `parent` and, for a folder, what it holds, `depth` levels deep
// at most. System calls only, no allocation: it runs inside a signal handler.
void remove_tree_at(int parent, const char* name, int depth) {
  if (::unlinkat(parent, name, 0) == 0 || (errno != EISDIR && errno != EPERM)) return;
  if (depth > 0) {
    const int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
      // Entries are removed while the folder is read: read it again until nothing is left.
      for (int pass = 0; pass < 8; ++pass) {
        bool removed_any = false;
        ::lseek(fd, 0, SEEK_SET);
        alignas(8) char buf[2048];
        ssize_t n = 0;
        while ((n = ::getdents64(fd, buf, sizeof buf)) > 0) {
          for (ssize_t off = 0; off < n;) {
            const auto* entry = reinterpret_cast<const struct dirent64*>(buf + off);
            off += entry->d_reclen;
            if (is_dot_or_dotdot(entry->d_name)) continue;
            remove_tree_at(fd, entry->d_name, depth - 1);
            removed_any = true;
          }
        }
        if (!removed_any) break;
      }
      ::close(fd);
    }
  }
  ::unlinkat(parent, name, AT_REMOVEDIR);
}

extern "C" void on_stop_signal(int sig) {
  if (g_cancel.exchange(true)) {
    // Second signal: the user insists; die the default way, but leave no scratch folder.
    const int saved_errno = errno;
    if (g_has_scratch.load(std::memory_order_acquire)) remove_tree_at(AT_FDCWD, g_scratch, 16);
    errno = saved_errno;
    ::signal(sig, SIG_DFL);
    ::raise(sig);
  }
}

}  // namespace

const std::atomic<bool>* cancel_flag() {
  return &g_cancel;
}

void set_scratch_folder(const std::string& path) {
  g_has_scratch.store(false, std::memory_order_release);
  if (path.empty() || path.size() >= sizeof g_scratch) return;
  std::memcpy(g_scratch, path.c_str(), path.size() + 1);
  g_has_scratch.store(true, std::memory_order_release);
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
