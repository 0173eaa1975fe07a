// AtomicFile: temp sibling + fsync + durable rename; see atomic_file.h.
#include "io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "core/fs.h"

namespace ft::io {

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), tmp_(fs::temp_sibling(path_)) {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0)
    throw Error("cannot create '" + tmp_ + "': " + std::strerror(errno),
                "check that the folder exists and is writable");
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void AtomicFile::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      throw Error("cannot write '" + tmp_ + "': " + std::strerror(e),
                  e == ENOSPC ? "the disk is full: free space and retry" : "");
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicFile::pad(size_t n) {
  static const char zeros[256] = {};
  while (n > 0) {
    size_t k = std::min(n, sizeof zeros);
    write(zeros, k);
    n -= k;
  }
}

void AtomicFile::commit() {
  if (::fsync(fd_) != 0) throw Error("fsync failed for '" + tmp_ + "': " + std::strerror(errno));
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) {
    ::unlink(tmp_.c_str());
    throw Error("cannot close '" + tmp_ + "': " + std::strerror(errno));
  }
  try {
    fs::rename_durable(tmp_, path_);
  } catch (...) {
    ::unlink(tmp_.c_str());
    throw;
  }
}

}  // namespace ft::io
