// HashFollower: one thread that hashes lent buffers in order and, from the file, whatever was
// written out of order, in windows of kReadBack bytes.
#include "hub/hash_follower.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace ft::hub {
namespace {
// Out-of-order bytes are hashed in windows of this size, mapped from the page cache (no copy), or
// read with pread where mapping fails.
constexpr size_t kReadBack = 16u << 20;
constexpr int kMadvPopulateRead = 22;  // MADV_POPULATE_READ (Linux 5.14); older kernels say EINVAL
}  // namespace

HashFollower::HashFollower(BlobHashKind kind, uint64_t size, int fd, std::string path)
    : hasher_(kind, size), size_(size), fd_(fd), path_(std::move(path)) {
  thread_ = std::thread([this] { run(); });
}

HashFollower::~HashFollower() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

HashFollower::Slot& HashFollower::take_free(std::vector<Slot>& slots, size_t size) {
  std::unique_lock<std::mutex> lk(mu_);
  Slot* free = nullptr;
  cv_.wait(lk, [&] {
    for (auto& s : slots)
      if (!s.lent) {
        free = &s;
        return true;
      }
    return false;
  });
  lk.unlock();
  if (free->data.size() != size) free->data.resize(size);
  return *free;
}

void HashFollower::wait_returned(std::vector<Slot>& slots) {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [&] {
    for (auto& s : slots)
      if (s.lent) return false;
    return true;
  });
}

bool HashFollower::lend(uint64_t offset, Slot& slot, size_t n) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (offset != frontier_ || stop_ || error_) return false;
    slot.lent = true;
    queue_.push_back({&slot, n});
    frontier_ += n;
  }
  cv_.notify_all();
  return true;
}

void HashFollower::prefix_grew(uint64_t prefix) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (prefix <= prefix_) return;
    prefix_ = prefix;
  }
  cv_.notify_all();
}

std::string HashFollower::finish() {
  std::unique_lock<std::mutex> lk(mu_);
  cv_.wait(lk, [&] { return hashed_ == size_ || error_; });
  if (error_) std::rethrow_exception(error_);
  lk.unlock();
  return hasher_.hex_digest();
}

bool HashFollower::hash_mapped(uint64_t at, uint64_t end) {
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  uint64_t base = at / page * page;
  size_t len = static_cast<size_t>(end - base);
  void* m = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd_, static_cast<off_t>(base));
  if (m == MAP_FAILED) return false;
  ::madvise(m, len, kMadvPopulateRead);  // one call instead of a fault per page; ignored where unknown
  hasher_.update(static_cast<const char*>(m) + (at - base), static_cast<size_t>(end - at));
  ::munmap(m, len);
  return true;
}

bool HashFollower::hash_read(uint64_t at, uint64_t end, std::vector<char>& buf, std::string* why) {
  if (buf.empty()) buf.resize(kReadBack);
  while (at < end) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), end - at));
    ssize_t r = ::pread(fd_, buf.data(), n, static_cast<off_t>(at));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      *why = r < 0 ? std::strerror(errno) : "the file is shorter than its written bytes";
      return false;
    }
    hasher_.update(buf.data(), static_cast<size_t>(r));
    at += static_cast<uint64_t>(r);
  }
  return true;
}

void HashFollower::run() {
  std::vector<char> buf;
  std::unique_lock<std::mutex> lk(mu_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || !queue_.empty() || prefix_ > frontier_; });
    if (stop_) return;
    if (!queue_.empty()) {
      Lent item = queue_.front();
      queue_.pop_front();
      lk.unlock();
      hasher_.update(item.slot->data.data(), item.n);
      lk.lock();
      item.slot->lent = false;
      hashed_ += item.n;
      cv_.notify_all();
      continue;
    }
    // Nothing lent: the bytes in [frontier_, prefix_) were written out of order; read them back.
    uint64_t at = frontier_;
    uint64_t end = std::min(prefix_, at + kReadBack);
    frontier_ = end;
    lk.unlock();
    std::string why;
    bool ok = hash_mapped(at, end) || hash_read(at, end, buf, &why);
    if (!ok) {
      lk.lock();
      error_ = std::make_exception_ptr(Error("cannot read back '" + path_ + "' to verify it: " + why));
      // Unblock writers waiting for their slots, then idle until stopped.
      for (auto& item : queue_) item.slot->lent = false;
      queue_.clear();
      cv_.notify_all();
      cv_.wait(lk, [&] { return stop_; });
      return;
    }
    lk.lock();
    hashed_ = end;
    cv_.notify_all();
  }
}

}  // namespace ft::hub
