// The Hub client: hf_hub_download and snapshot_download semantics over the shared cache.
//   file()     one file at a revision (branch, tag or commit) -> path inside snapshots/<commit>/
//   snapshot() every file of a revision matching include/exclude -> snapshots/<commit>
// Metadata comes from HEAD on the resolve URL (relative redirects followed, the CDN redirect kept and
// fetched without the Authorization header); repo info and file lists from the JSON API. Offline
// (HF_HUB_OFFLINE) everything is answered from the cache without a network call, and when the network
// fails the cache is used as huggingface_hub does.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hub/cache.h"
#include "hub/config.h"
#include "hub/fetch.h"
#include "hub/http.h"

namespace ft::hub {

struct FileMetadata {
  std::string commit;    // X-Repo-Commit
  std::string etag;      // X-Linked-Etag or ETag, W/ and quotes stripped
  std::string location;  // Location when redirected (the CDN), else the (final) request URL
  uint64_t size = 0;     // X-Linked-Size or Content-Length
};

struct RepoFile {
  std::string path;
  uint64_t size = 0;
  std::string oid;                 // git blob sha1
  std::optional<std::string> lfs;  // sha256 for LFS files
  std::string etag() const { return lfs ? *lfs : oid; }
};

struct RepoInfo {
  std::string id;
  std::string sha;                    // the commit the revision points to
  std::vector<std::string> siblings;  // rfilename of each file
  bool is_private = false;
  std::string gated;  // "" or "auto"/"manual"
};

struct SnapshotOptions {
  std::string revision = "main";
  std::vector<std::string> include, exclude;
  std::string repo_type = "model";
};

// Totals of what a client did (for tests, benchmarks and the CLI's summary line).
struct TransferTotals {
  uint64_t network_bytes = 0, resumed_bytes = 0, files_fetched = 0, files_cached = 0;
  int requests = 0, retries = 0, restarts = 0;
  double seconds = 0;  // wall time inside file()/snapshot() calls (what a benchmark divides by)
};

class HubClient {
 public:
  explicit HubClient(HubConfig cfg);
  ~HubClient();

  const HubConfig& config() const { return cfg_; }

  std::string file(const std::string& repo_id, const std::string& filename,
                   const std::string& revision = "main", const std::string& repo_type = "model");
  std::string snapshot(const std::string& repo_id, const SnapshotOptions& opts = {});

  FileMetadata file_metadata(const std::string& repo_id, const std::string& filename,
                             const std::string& revision, const std::string& repo_type = "model");
  RepoInfo repo_info(const std::string& repo_id, const std::string& revision = "main",
                     const std::string& repo_type = "model");
  std::vector<RepoFile> list_files(const std::string& repo_id, const std::string& revision = "main",
                                   const std::string& repo_type = "model");

  TransferTotals totals() const;

 private:
  // Adds the wall time of one public call to totals_.seconds.
  struct CallTimer {
    explicit CallTimer(HubClient& client) : c(client) {}
    ~CallTimer();
    HubClient& c;
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  };
  std::string file_impl(const std::string& repo_id, const std::string& filename, const std::string& revision,
                        const std::string& repo_type, const RepoFile* known, Progress* progress);
  std::string file_from_cache(const RepoCache& cache, const std::string& filename,
                              const std::string& revision, const std::string& why);
  HttpResponse api_get(const std::string& url_text);
  HeaderMap headers_for(const Url& url) const;
  std::string resolve_url(const std::string& repo_id, const std::string& repo_type,
                          const std::string& revision, const std::string& filename) const;
  void add_totals(const FetchStats& s, bool fetched);

  HubConfig cfg_;
  mutable std::mutex mu_;
  TransferTotals totals_;
};

// Human-readable error for a failed Hub call, mapping 401/403/404 and X-Error-Code to what the user
// must do. `what` names the repo/revision/file asked for.
[[noreturn]] void throw_http_error(const HttpResponse& r, const std::string& repo_id,
                                   const std::string& revision, const std::string& filename,
                                   const HubConfig& cfg);

}  // namespace ft::hub
