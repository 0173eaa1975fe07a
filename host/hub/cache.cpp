// Cache layout, refs, snapshot symlinks, negative markers, file locks and the cache scan.
#include "hub/cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "core/error.h"
#include "core/fs.h"

namespace ft::hub {
namespace sfs = std::filesystem;

std::string repo_type_plural(const std::string& t) {
  if (t == "model" || t == "dataset" || t == "space") return t + "s";
  throw Error("unknown repo type '" + t + "' (expected model, dataset or space)");
}

std::string repo_folder_name(const std::string& repo_id, const std::string& repo_type) {
  std::string out = repo_type_plural(repo_type);
  size_t start = 0;
  for (;;) {
    size_t slash = repo_id.find('/', start);
    out += "--" + repo_id.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  return out;
}

bool is_commit_hash(const std::string& r) {
  return r.size() == 40 && r.find_first_not_of("0123456789abcdef") == std::string::npos;
}

void validate_relative_filename(const std::string& filename) {
  if (filename.empty()) throw Error("empty filename", "name a file inside the repo, e.g. config.json");
  if (filename[0] == '/' || filename[0] == '\\')
    throw Error("filename '" + filename + "' is absolute; expected a path relative to the repo root");
  size_t start = 0;
  for (;;) {
    size_t slash = filename.find_first_of("/\\", start);
    std::string part = filename.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part == "..")
      throw Error("filename '" + filename + "' contains a '..' segment; refusing to write outside the cache");
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
}

RepoCache::RepoCache(std::string cache_dir, std::string repo_id, std::string repo_type)
    : cache_dir_(std::move(cache_dir)), repo_id_(std::move(repo_id)), repo_type_(std::move(repo_type)) {
  repo_type_plural(repo_type_);
}

std::string RepoCache::storage_dir() const {
  return cache_dir_ + "/" + repo_folder_name(repo_id_, repo_type_);
}
std::string RepoCache::blob_path(const std::string& etag) const {
  return storage_dir() + "/blobs/" + etag;
}
std::string RepoCache::snapshot_dir(const std::string& commit) const {
  return storage_dir() + "/snapshots/" + commit;
}
std::string RepoCache::pointer_path(const std::string& commit, const std::string& filename) const {
  return snapshot_dir(commit) + "/" + filename;
}
std::string RepoCache::no_exist_path(const std::string& commit, const std::string& filename) const {
  return storage_dir() + "/.no_exist/" + commit + "/" + filename;
}
std::string RepoCache::ref_path(const std::string& revision) const {
  return storage_dir() + "/refs/" + revision;
}
std::string RepoCache::lock_path(const std::string& etag) const {
  return cache_dir_ + "/.locks/" + repo_folder_name(repo_id_, repo_type_) + "/" + etag + ".lock";
}

std::optional<std::string> RepoCache::resolve_commit(const std::string& revision) const {
  if (is_commit_hash(revision)) return revision;
  std::error_code ec;
  if (!sfs::is_regular_file(ref_path(revision), ec)) return std::nullopt;
  std::string c = fs::read_file(ref_path(revision));
  while (!c.empty() && (c.back() == '\n' || c.back() == '\r' || c.back() == ' ')) c.pop_back();
  if (!is_commit_hash(c)) return std::nullopt;
  return c;
}

void RepoCache::write_ref(const std::string& revision, const std::string& commit) const {
  if (revision == commit) return;
  std::string path = ref_path(revision);
  std::error_code ec;
  if (sfs::is_regular_file(path, ec) && fs::read_file(path) == commit) return;
  fs::make_dirs(sfs::path(path).parent_path().string());
  fs::write_file_atomic(path, commit);
}

void RepoCache::link_snapshot(const std::string& commit, const std::string& filename,
                              const std::string& etag) const {
  validate_relative_filename(filename);
  std::string ptr = pointer_path(commit, filename);
  sfs::path dir = sfs::path(ptr).parent_path();
  fs::make_dirs(dir.string());
  // Relative target, as huggingface_hub's _create_symlink: from the pointer's folder to the blob.
  std::string target = sfs::path(blob_path(etag)).lexically_relative(dir).string();
  std::string tmp = fs::temp_sibling(ptr);
  ::unlink(tmp.c_str());
  if (::symlink(target.c_str(), tmp.c_str()) != 0)
    throw Error("cannot create symlink '" + ptr + "' -> '" + target + "': " + std::strerror(errno),
                "the cache folder must be on a file system with symlinks");
  if (::rename(tmp.c_str(), ptr.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot place symlink '" + ptr + "': " + std::strerror(e));
  }
}

void RepoCache::mark_no_exist(const std::string& commit, const std::string& filename) const {
  validate_relative_filename(filename);
  std::string p = no_exist_path(commit, filename);
  fs::make_dirs(sfs::path(p).parent_path().string());
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) ::close(fd);
}

void RepoCache::ensure_cachedir_tag() const {
  std::string p = cache_dir_ + "/CACHEDIR.TAG";
  if (fs::exists(p)) return;
  fs::make_dirs(cache_dir_);
  try {
    fs::write_file_atomic(p,
                          "Signature: 8a477f597d28d172789f06886806bc55\n"
                          "# This file is a cache directory tag created by huggingface_hub.\n"
                          "# For information about cache directory tags, see:\n"
                          "#\thttps://bford.info/cachedir/\n");
  } catch (const Error&) {
    // Best effort, as in huggingface_hub: a read-only cache root still works for reads.
  }
}

FileLock::FileLock(const std::string& path, double log_every_s) {
  fs::make_dirs(sfs::path(path).parent_path().string());
  mode_t old = ::umask(0);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0664);
  ::umask(old);
  if (fd_ < 0)
    throw Error("cannot open lock file '" + path + "': " + std::strerror(errno),
                "check that the cache folder is writable (HF_HUB_CACHE)");
  auto start = std::chrono::steady_clock::now();
  auto next_log = start + std::chrono::duration<double>(log_every_s);
  for (;;) {
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
    if (errno != EWOULDBLOCK && errno != EINTR) {
      int e = errno;
      ::close(fd_);
      throw Error("cannot lock '" + path + "': " + std::strerror(e));
    }
    auto now = std::chrono::steady_clock::now();
    if (now >= next_log) {
      std::fprintf(stderr, "hub: still waiting for lock %s (another process is downloading this file)\n",
                   path.c_str());
      next_log = now + std::chrono::duration<double>(log_every_s);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

FileLock::~FileLock() {
  if (fd_ >= 0) {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

std::vector<CachedRepoInfo> scan_cache(const std::string& cache_dir) {
  std::vector<CachedRepoInfo> out;
  std::error_code ec;
  if (!sfs::is_directory(cache_dir, ec)) return out;
  for (auto& entry : sfs::directory_iterator(cache_dir, ec)) {
    std::string name = entry.path().filename().string();
    auto sep = name.find("--");
    if (!entry.is_directory(ec) || sep == std::string::npos) continue;
    std::string plural = name.substr(0, sep);
    if (plural != "models" && plural != "datasets" && plural != "spaces") continue;
    CachedRepoInfo info;
    info.repo_type = plural.substr(0, plural.size() - 1);
    std::string rest = name.substr(sep + 2);
    for (size_t p; (p = rest.find("--")) != std::string::npos;) rest.replace(p, 2, "/");
    info.repo_id = rest;
    info.path = entry.path().string();
    for (auto& b : sfs::directory_iterator(entry.path() / "blobs", ec)) {
      if (!b.is_regular_file(ec)) continue;
      std::string bn = b.path().filename().string();
      uint64_t sz = b.file_size(ec);
      if (bn.find('.') != std::string::npos) {
        info.incomplete_bytes += sz;
      } else {
        info.size_on_disk += sz;
        ++info.nb_blobs;
      }
    }
    std::vector<std::pair<std::string, std::string>> refs;  // (name, commit)
    sfs::path refs_dir = entry.path() / "refs";
    for (auto it = sfs::recursive_directory_iterator(refs_dir, ec);
         !ec && it != sfs::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file(ec)) continue;
      std::string c = fs::read_file(it->path().string());
      refs.emplace_back(it->path().lexically_relative(refs_dir).string(), c);
    }
    ec.clear();
    for (auto& s : sfs::directory_iterator(entry.path() / "snapshots", ec)) {
      if (!s.is_directory(ec)) continue;
      CachedRevision rev;
      rev.commit = s.path().filename().string();
      for (auto& [n, c] : refs)
        if (c == rev.commit) rev.refs.push_back(n);
      for (auto it = sfs::recursive_directory_iterator(s.path(), ec);
           !ec && it != sfs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_symlink(ec) || it->is_regular_file(ec))
          rev.files.push_back(it->path().lexically_relative(s.path()).string());
      }
      ec.clear();
      std::sort(rev.files.begin(), rev.files.end());
      info.revisions.push_back(std::move(rev));
    }
    ec.clear();
    std::sort(info.revisions.begin(), info.revisions.end(),
              [](const CachedRevision& a, const CachedRevision& b) { return a.commit < b.commit; });
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(),
            [](const CachedRepoInfo& a, const CachedRepoInfo& b) { return a.path < b.path; });
  return out;
}

}  // namespace ft::hub
