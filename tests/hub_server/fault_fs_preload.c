/* fault_fs_preload: an LD_PRELOAD library for the disk-full tests. It makes a full disk without a
 * mount or any privilege, by answering the file calls fthost makes for partial downloads:
 *   FT_FAULT_DISK_BUDGET=N      writes to files named "*.incomplete" succeed for N bytes in all, then
 *                               fail with ENOSPC (the write that crosses the budget is cut short)
 *   FT_FAULT_FALLOCATE=enospc   fallocate fails with ENOSPC; =unsupported: with EOPNOTSUPP. Either
 *                               way fstatfs reports ext4 instead of tmpfs, so fthost does call it.
 *   FT_FAULT_FREE_BYTES=N       statvfs reports N bytes free
 * Unset variables leave the calls alone. Counters are per process. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

static atomic_llong written;

static long long env_ll(const char* name) {
  const char* v = getenv(name);
  return v && *v ? atoll(v) : -1;
}

static int is_partial(int fd) {
  char link[64], path[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, sizeof path - 1);
  if (n <= 0) return 0;
  path[n] = '\0';
  const char* suffix = ".incomplete";
  size_t s = strlen(suffix);
  return (size_t)n >= s && strcmp(path + n - s, suffix) == 0;
}

/* How many of `count` bytes may be written to fd: count, fewer, or -1 (errno ENOSPC). */
static ssize_t allowance(int fd, size_t count) {
  long long budget = env_ll("FT_FAULT_DISK_BUDGET");
  if (budget < 0 || !is_partial(fd)) return (ssize_t)count;
  long long before = atomic_fetch_add(&written, (long long)count);
  if (before >= budget) {
    atomic_fetch_sub(&written, (long long)count);
    errno = ENOSPC;
    return -1;
  }
  if (before + (long long)count > budget) {
    atomic_fetch_sub(&written, before + (long long)count - budget);
    return (ssize_t)(budget - before);
  }
  return (ssize_t)count;
}

typedef ssize_t (*pwrite_fn)(int, const void*, size_t, off_t);
typedef ssize_t (*write_fn)(int, const void*, size_t);
typedef int (*fallocate_fn)(int, int, off_t, off_t);
typedef int (*fstatfs_fn)(int, struct statfs*);
typedef int (*statvfs_fn)(const char*, struct statvfs*);

/* The next definition of `name` (libc's), looked up once. */
#define REAL(name, type) \
  static type real_##name; \
  if (!real_##name) real_##name = (type)dlsym(RTLD_NEXT, #name)

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  REAL(pwrite, pwrite_fn);
  ssize_t n = allowance(fd, count);
  return n < 0 ? -1 : real_pwrite(fd, buf, (size_t)n, offset);
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off_t offset) {
  return pwrite(fd, buf, count, offset);
}

ssize_t write(int fd, const void* buf, size_t count) {
  REAL(write, write_fn);
  ssize_t n = allowance(fd, count);
  return n < 0 ? -1 : real_write(fd, buf, (size_t)n);
}

int fallocate(int fd, int mode, off_t offset, off_t len) {
  REAL(fallocate, fallocate_fn);
  const char* f = getenv("FT_FAULT_FALLOCATE");
  if (f && strcmp(f, "enospc") == 0) {
    errno = ENOSPC;
    return -1;
  }
  if (f && strcmp(f, "unsupported") == 0) {
    errno = EOPNOTSUPP;
    return -1;
  }
  return real_fallocate(fd, mode, offset, len);
}

int fallocate64(int fd, int mode, off_t offset, off_t len) {
  return fallocate(fd, mode, offset, len);
}

int fstatfs(int fd, struct statfs* buf) {
  REAL(fstatfs, fstatfs_fn);
  int r = real_fstatfs(fd, buf);
  if (r == 0 && getenv("FT_FAULT_FALLOCATE") && (buf->f_type == TMPFS_MAGIC || buf->f_type == RAMFS_MAGIC))
    buf->f_type = EXT4_SUPER_MAGIC;
  return r;
}

int fstatfs64(int fd, struct statfs64* buf) { /* the same layout on 64-bit Linux */
  return fstatfs(fd, (struct statfs*)buf);
}

int statvfs(const char* path, struct statvfs* buf) {
  REAL(statvfs, statvfs_fn);
  int r = real_statvfs(path, buf);
  long long free_bytes = env_ll("FT_FAULT_FREE_BYTES");
  if (r == 0 && free_bytes >= 0) {
    buf->f_bavail = (fsblkcnt_t)(free_bytes / (long long)buf->f_frsize);
    buf->f_bfree = buf->f_bavail;
  }
  return r;
}

int statvfs64(const char* path, struct statvfs64* buf) {
  return statvfs(path, (struct statvfs*)buf);
}
