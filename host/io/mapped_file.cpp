// MappedFile: open + fstat + mmap, with errors that name the path.
#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace ft::io {

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path, bool populate) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    throw Error("cannot open '" + path + "': " + std::strerror(e),
                e == ENOENT
                    ? "check the path; a model folder holds model.safetensors or model.safetensors.index.json"
                    : "");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error("'" + path + "' is not a regular file");
  }
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->path_ = path;
  m->size_ = static_cast<size_t>(st.st_size);
  if (m->size_ > 0) {
    // Populate read-only (a writable private mapping would be pre-faulted for write, copying every
    // page), then allow copy-on-write writes so in-place ops on aliasing tensors work.
    int flags = MAP_PRIVATE | (populate ? MAP_POPULATE : 0);
    void* p = ::mmap(nullptr, m->size_, PROT_READ, flags, fd, 0);
    if (p != MAP_FAILED && ::mprotect(p, m->size_, PROT_READ | PROT_WRITE) != 0) {
      ::munmap(p, m->size_);
      p = MAP_FAILED;
    }
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      throw Error("cannot map '" + path + "' (" + std::to_string(m->size_) + " bytes): " + std::strerror(e),
                  e == ENOMEM ? "not enough address space or memory" : "");
    }
    m->data_ = static_cast<char*>(p);
  }
  ::close(fd);  // the mapping keeps the file alive
  return m;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

}  // namespace ft::io
