// The on-disk cache, byte-for-byte as huggingface_hub lays it out, so Python, @huggingface/hub and
// fthost share one cache:
//   <cache>/models--org--name/blobs/<etag>          content, named by its ETag (sha256 or git-sha1)
//   <cache>/models--org--name/refs/<revision>       40-hex commit, no newline (temp + rename)
//   <cache>/models--org--name/snapshots/<commit>/<path> -> ../../blobs/<etag> (relative symlink)
//   <cache>/models--org--name/.no_exist/<commit>/<path>  empty marker: the file does not exist there
//   <cache>/.locks/models--org--name/<etag>.lock    flock held while a blob is being produced
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ft::hub {

// "model" | "dataset" | "space"; throws ft::Error for anything else.
std::string repo_type_plural(const std::string& repo_type);
// "models--org--name" (repo_folder_name: the type's plural, then the id's parts, joined with "--").
std::string repo_folder_name(const std::string& repo_id, const std::string& repo_type);
bool is_commit_hash(const std::string& revision);  // ^[0-9a-f]{40}$

class RepoCache {
 public:
  RepoCache(std::string cache_dir, std::string repo_id, std::string repo_type = "model");

  const std::string& cache_dir() const { return cache_dir_; }
  const std::string& repo_id() const { return repo_id_; }
  const std::string& repo_type() const { return repo_type_; }
  std::string storage_dir() const;  // <cache>/models--org--name
  std::string blob_path(const std::string& etag) const;
  std::string snapshot_dir(const std::string& commit) const;
  std::string pointer_path(const std::string& commit, const std::string& filename) const;
  std::string no_exist_path(const std::string& commit, const std::string& filename) const;
  std::string ref_path(const std::string& revision) const;
  std::string lock_path(const std::string& etag) const;

  // The commit a revision points to: the revision itself when it is a commit hash, else refs/<rev>.
  std::optional<std::string> resolve_commit(const std::string& revision) const;
  // Writes refs/<revision> = commit (no newline) by temp + rename, only when it changed.
  void write_ref(const std::string& revision, const std::string& commit) const;
  // Creates (atomically replaces) the relative symlink snapshots/<commit>/<filename> -> blobs/<etag>.
  void link_snapshot(const std::string& commit, const std::string& filename, const std::string& etag) const;
  void mark_no_exist(const std::string& commit, const std::string& filename) const;
  // Writes <cache>/CACHEDIR.TAG once (as huggingface_hub does).
  void ensure_cachedir_tag() const;

 private:
  std::string cache_dir_, repo_id_, repo_type_;
};

// Checks a repo-relative filename: no "..", no absolute path, not empty. Throws ft::Error.
void validate_relative_filename(const std::string& filename);

// A flock() on a lock file, created with mode 0664 like filelock. Blocks; while waiting, logs every
// `log_every_s` seconds (to stderr) which lock it waits on.
class FileLock {
 public:
  explicit FileLock(const std::string& path, double log_every_s = 10);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_ = -1;
};

// ---- cache_info ------------------------------------------------------------------------------
struct CachedRevision {
  std::string commit;
  std::vector<std::string> refs;   // branch/tag names pointing at it
  std::vector<std::string> files;  // snapshot-relative paths
};
struct CachedRepoInfo {
  std::string repo_id, repo_type, path;
  uint64_t size_on_disk = 0;  // bytes of complete blobs
  uint64_t nb_blobs = 0;
  uint64_t incomplete_bytes = 0;  // partial downloads waiting to be resumed
  std::vector<CachedRevision> revisions;
};
// Scans every "<type>s--*" folder of the cache. A missing cache dir gives an empty list.
std::vector<CachedRepoInfo> scan_cache(const std::string& cache_dir);

}  // namespace ft::hub
