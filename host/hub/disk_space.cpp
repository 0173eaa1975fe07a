// statvfs / fallocate / st_blocks behind the disk-space checks of downloads.
#include "hub/disk_space.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "core/strings.h"

namespace ft::hub {

uint64_t free_bytes(const std::string& dir) {
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) != 0) return UINT64_MAX;
  return static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
}

uint64_t allocated_bytes(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_blocks) * 512 : 0;
}

void throw_disk_full(const std::string& doing, const std::string& dir, uint64_t needed) {
  uint64_t free = free_bytes(dir);
  throw Error("disk full: " + doing + " needs " + human_bytes(needed) + " (" + std::to_string(needed) +
                  " bytes) more; " +
                  (free == UINT64_MAX ? std::string("the free space is unknown")
                                      : human_bytes(free) + " (" + std::to_string(free) + " bytes) is free") +
                  " in '" + dir + "'",
              "free some space, or point HF_HUB_CACHE (or HF_HOME) at a larger disk; a partial download "
              "is kept and the next run resumes it");
}

void require_free_space(const std::string& dir, uint64_t needed, const std::string& what) {
  if (needed > 0 && free_bytes(dir) < needed) throw_disk_full("downloading " + what, dir, needed);
}

void reserve_space(int fd, uint64_t size, const std::string& dir, uint64_t needed, const std::string& what) {
  if (size == 0) return;
  // On tmpfs/ramfs, space is memory and fallocate zero-fills every page up front, before the first
  // byte arrives (0.4 s per GiB here): there the statvfs check and the write path's ENOSPC must do.
  struct statfs sfs {};
  if (::fstatfs(fd, &sfs) == 0 && (sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC)) return;
  int r;
  do {
    r = ::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(size));
  } while (r != 0 && errno == EINTR);
  if (r != 0 && (errno == ENOSPC || errno == EDQUOT)) throw_disk_full("downloading " + what, dir, needed);
}

}  // namespace ft::hub
