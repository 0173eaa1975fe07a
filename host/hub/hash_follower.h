// Hashes a blob's bytes [0, size) in order on a thread of its own while the download runs, so that
// hashing overlaps receiving and writing instead of following them. Writers lend the buffer they have
// just written when its bytes come next in line (no copy); bytes that arrive out of order (parallel
// byte ranges) are hashed from the partial file, mapped read-only from the page cache, once the
// contiguous written prefix covers them.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hub/hashing.h"

namespace ft::hub {

class HashFollower {
 public:
  // A writer's receive buffer; while lent, the follower reads it and the writer must not touch it.
  struct Slot {
    std::vector<char> data;
    bool lent = false;  // guarded by the follower's mutex
  };

  // `fd` is the partial file (read back with pread); `path` names it in messages.
  HashFollower(BlobHashKind kind, uint64_t size, int fd, std::string path);
  ~HashFollower();  // stops the thread (without finishing the hash)
  HashFollower(const HashFollower&) = delete;
  HashFollower& operator=(const HashFollower&) = delete;

  // A slot of `slots` that is not lent, waiting for one to come back when all are; its data is
  // sized to `size` bytes.
  Slot& take_free(std::vector<Slot>& slots, size_t size);
  // Bytes [offset, offset + n) are in the file and in slot.data: lends the slot when they come next
  // in line. True when lent.
  bool lend(uint64_t offset, Slot& slot, size_t n);
  // Waits until none of `slots` is lent any more (before a writer frees them).
  void wait_returned(std::vector<Slot>& slots);
  // The file's contiguous written prefix now reaches `prefix`.
  void prefix_grew(uint64_t prefix);
  // Waits until all `size` bytes are hashed and returns the lower-case hex digest. Throws ft::Error
  // when reading the file back failed.
  std::string finish();

 private:
  void run();
  bool hash_mapped(uint64_t at, uint64_t end);
  bool hash_read(uint64_t at, uint64_t end, std::vector<char>& buf, std::string* why);
  struct Lent {
    Slot* slot;
    size_t n;
  };
  BlobHasher hasher_;
  uint64_t size_;
  int fd_;
  std::string path_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Lent> queue_;  // in file order, starting at the hashed end of what is claimed
  uint64_t frontier_ = 0;   // bytes [0, frontier_) are hashed, queued or being read back
  uint64_t hashed_ = 0;
  uint64_t prefix_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace ft::hub
