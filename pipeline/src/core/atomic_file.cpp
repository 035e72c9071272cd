#include "retort/core/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace retort {
namespace {

std::atomic<uint64_t> g_next_temp{0};

// Creates a file of a name no other writer uses: "<path>.tmp-<pid>-<n>". A leftover of a dead
// process that had the same pid is skipped (O_EXCL), not reused.
int create_temp(const std::string& path, std::string* tmp) {
  const std::string prefix =
      path + std::string(kTempFileMarker) + std::to_string(static_cast<long>(::getpid())) + "-";
  for (int attempt = 0; attempt < 1000; ++attempt) {
    *tmp = prefix + std::to_string(g_next_temp.fetch_add(1, std::memory_order_relaxed));
    const int fd = ::open(tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  errno = EEXIST;
  return -1;
}

// 0, or the errno of the failed write.
int write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno;
    if (n == 0) return EIO;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

}  // namespace

Status write_file_atomically(const std::string& path, std::string_view bytes, bool sync) {
  std::string tmp;
  const int fd = create_temp(path, &tmp);
  if (fd < 0)
    return make_error(ErrorCode::kIo, "cannot write '", tmp, "': ", std::strerror(errno),
                      " (does the folder exist and is it writable?)");
  int err = write_all(fd, bytes);
  if (err == 0 && sync && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    ::unlink(tmp.c_str());
    return make_error(ErrorCode::kIo, "cannot write '", tmp, "': ", std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int rename_errno = errno;
    ::unlink(tmp.c_str());
    return make_error(ErrorCode::kIo, "cannot rename '", tmp, "' to '", path,
                      "': ", std::strerror(rename_errno));
  }
  return Status::Ok();
}

}  // namespace retort
