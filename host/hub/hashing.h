// Content hashes that name Hub blobs: sha256 for LFS files (the ETag is the sha256 of the content) and
// git's blob sha1 ("blob <len>\0" + content) for regular files. Streaming, on OpenSSL's EVP.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace ft::hub {

enum class BlobHashKind { none, sha256, git_sha1 };

// sha256 when the ETag is 64 hex digits, git-sha1 when it is 40, none otherwise (e.g. Xet hashes).
BlobHashKind hash_kind_for_etag(const std::string& etag);
const char* hash_kind_name(BlobHashKind k);

class BlobHasher {
 public:
  // `size` is the full content length (git-sha1 hashes it into its header first).
  BlobHasher(BlobHashKind kind, uint64_t size);
  ~BlobHasher();
  BlobHasher(const BlobHasher&) = delete;
  BlobHasher& operator=(const BlobHasher&) = delete;
  void update(const void* data, size_t n);
  std::string hex_digest();  // lower-case hex; finalises

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string sha256_hex(const std::string& data);
std::string git_blob_sha1_hex(const std::string& data);
// Hashes a file on disk with the given kind (for cache verification and tests).
std::string hash_file_hex(const std::string& path, BlobHashKind kind);

}  // namespace ft::hub
