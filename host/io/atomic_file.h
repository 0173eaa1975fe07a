// AtomicFile: streams a file that appears at its final path only once complete. Data goes to a temp
// sibling; commit() fsyncs it and renames it into place (fsyncing the folder). A file never committed
// (an exception on the way) is removed by the destructor, so a failed write leaves nothing behind.
#pragma once

#include <cstddef>
#include <string>

namespace ft::io {

class AtomicFile {
 public:
  // Creates the temp sibling of `path`; throws ft::Error naming it when the folder is not writable.
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends n bytes (retrying short writes); throws ft::Error (with a hint when the disk is full).
  void write(const void* data, size_t n);
  // Appends n zero bytes (padding).
  void pad(size_t n);
  // fsync + close + rename to the final path.
  void commit();

 private:
  std::string path_, tmp_;
  int fd_ = -1;
};

}  // namespace ft::io
