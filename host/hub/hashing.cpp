// sha256 / git-sha1 blob hashing on OpenSSL EVP.
#include "hub/hashing.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/error.h"

namespace ft::hub {

BlobHashKind hash_kind_for_etag(const std::string& etag) {
  bool hex = !etag.empty() && etag.find_first_not_of("0123456789abcdef") == std::string::npos;
  if (hex && etag.size() == 64) return BlobHashKind::sha256;
  if (hex && etag.size() == 40) return BlobHashKind::git_sha1;
  return BlobHashKind::none;
}

const char* hash_kind_name(BlobHashKind k) {
  switch (k) {
    case BlobHashKind::sha256:
      return "sha256";
    case BlobHashKind::git_sha1:
      return "git-sha1";
    default:
      return "none";
  }
}

struct BlobHasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
  BlobHashKind kind;
};

BlobHasher::BlobHasher(BlobHashKind kind, uint64_t size) : impl_(std::make_unique<Impl>()) {
  impl_->kind = kind;
  if (kind == BlobHashKind::none) return;
  impl_->ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(impl_->ctx, kind == BlobHashKind::sha256 ? EVP_sha256() : EVP_sha1(), nullptr);
  if (kind == BlobHashKind::git_sha1) {
    std::string head = "blob " + std::to_string(size);
    EVP_DigestUpdate(impl_->ctx, head.data(), head.size() + 1);  // includes the '\0'
  }
}

BlobHasher::~BlobHasher() {
  if (impl_->ctx) EVP_MD_CTX_free(impl_->ctx);
}

void BlobHasher::update(const void* data, size_t n) {
  if (impl_->ctx) EVP_DigestUpdate(impl_->ctx, data, n);
}

std::string BlobHasher::hex_digest() {
  if (!impl_->ctx) return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_DigestFinal_ex(impl_->ctx, md, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[md[i] >> 4];
    out += hex[md[i] & 15];
  }
  return out;
}

std::string sha256_hex(const std::string& data) {
  BlobHasher h(BlobHashKind::sha256, data.size());
  h.update(data.data(), data.size());
  return h.hex_digest();
}

std::string git_blob_sha1_hex(const std::string& data) {
  BlobHasher h(BlobHashKind::git_sha1, data.size());
  h.update(data.data(), data.size());
  return h.hex_digest();
}

std::string hash_file_hex(const std::string& path, BlobHashKind kind) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open '" + path + "' to hash it: " + std::strerror(errno));
  struct stat st {};
  ::fstat(fd, &st);
  BlobHasher h(kind, static_cast<uint64_t>(st.st_size));
  std::vector<char> buf(4 << 20);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      throw Error("cannot read '" + path + "': " + std::strerror(e));
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
  }
  ::close(fd);
  return h.hex_digest();
}

}  // namespace ft::hub
