// A read-mostly memory mapping of a whole file (MAP_PRIVATE: writes through tensors that alias it are
// copy-on-write and never reach the file). Shared by the safetensors loader and tests. Torch-free.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace ft::io {

class MappedFile {
 public:
  // Maps `path`; throws ft::Error naming the path when it cannot be opened or mapped.
  // populate: pre-fault every page (MAP_POPULATE) because the caller will read all of it.
  static std::shared_ptr<MappedFile> open(const std::string& path, bool populate = true);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  char* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  char* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace ft::io
