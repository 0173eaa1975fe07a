// HashFollower: one thread that hashes lent buffers in order and reads back from the file whatever
// was written out of order, in pieces of kReadBack bytes.
#include "hub/hash_follower.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace ft::hub {
namespace {
constexpr size_t kReadBack = 4u << 20;
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
    if (buf.empty()) buf.resize(kReadBack);
    bool ok = true;
    while (at < end && ok) {
      ssize_t r = ::pread(fd_, buf.data(), static_cast<size_t>(end - at), static_cast<off_t>(at));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        std::string why = r < 0 ? std::strerror(errno) : "the file is shorter than its written bytes";
        lk.lock();
        error_ = std::make_exception_ptr(Error("cannot read back '" + path_ + "' to verify it: " + why));
        cv_.notify_all();
        ok = false;
        break;
      }
      hasher_.update(buf.data(), static_cast<size_t>(r));
      at += static_cast<uint64_t>(r);
    }
    if (!ok) {
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
