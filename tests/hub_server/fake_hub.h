// A loopback Hugging Face Hub for tests (cpp-httplib): the JSON API (repo info, paginated tree,
// paths-info), resolve URLs answered as the Hub does (ETag / X-Linked-Etag / X-Repo-Commit /
// X-Linked-Size; LFS files redirected to a second "CDN" port; renamed repos as relative redirects;
// gated repos; X-Error-Code on errors), byte ranges, and fault injection: dropped connections,
// 5xx/429 bursts with Retry-After, slow bodies, corrupted bytes, truncated bodies, ignored ranges.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace fakehub {

struct FakeFile {
  std::string path;
  bool lfs = false;
  std::string content;    // in-memory content, or
  uint64_t gen_size = 0;  // generated content of this size (deterministic, for large files)
  uint32_t gen_seed = 0;
  // Filled by FakeHub::add_repo:
  std::string sha256, git_sha1;
  uint64_t size() const { return gen_size ? gen_size : content.size(); }
  void read(uint64_t offset, size_t n, char* out) const;  // content bytes [offset, offset+n)
};

struct FakeCommit {
  std::string sha;  // 40 hex
  std::string title;
  std::vector<FakeFile> files;
};

struct FakeRepo {
  std::string id;  // "org/name"
  std::vector<FakeCommit> commits;
  std::map<std::string, std::string> refs;  // branch/tag -> commit sha
  bool gated = false;
};

// One fault rule; `path` selects files by repo-relative path ("" = every file). Counters are
// consumed per matching body response (drop/corrupt/truncate/ignore_range) or per request (status).
struct Fault {
  std::string path;
  int status_times = 0;  // answer `status` to this many requests (resolve and CDN, HEAD and GET)
  int status = 503;
  int retry_after = -1;  // seconds, sent with the status when >= 0
  int drop_times = 0;    // close the connection after `drop_after` body bytes
  uint64_t drop_after = 0;
  int corrupt_times = 0;  // flip the byte at `corrupt_offset` (absolute file offset)
  uint64_t corrupt_offset = 0;
  int truncate_times = 0;  // send a complete answer `truncate_by` bytes shorter than the file
  uint64_t truncate_by = 1;
  int ignore_range_times = 0;  // answer 200 with the full body to Range requests
  int stall_times = 0;         // stop sending after `drop_after` bytes and keep the connection open
  double stall_s = 0;
};

struct Stats {
  uint64_t body_bytes = 0;  // file body bytes written to sockets
  int resolve_heads = 0, resolve_gets = 0, cdn_gets = 0, range_gets = 0, api_calls = 0;
  int cdn_auth_seen = 0;  // CDN requests that carried Authorization (must stay 0)
  int faults_fired = 0;
  std::map<std::string, uint64_t> bytes_by_path;
};

class FakeHub {
 public:
  FakeHub();
  ~FakeHub();
  // Binds both servers to 127.0.0.1 on free ports and serves in background threads.
  void start();
  void stop();
  int port() const { return port_; }
  int cdn_port() const { return cdn_port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void add_repo(FakeRepo repo);                                          // computes hashes
  void add_alias(const std::string& old_id, const std::string& new_id);  // renamed repo
  void add_token(const std::string& token);                              // accepted for gated repos
  void add_fault(const Fault& f);
  void clear_faults();
  void set_rate(uint64_t bytes_per_s) { rate_ = bytes_per_s; }  // per-connection cap, 0 = none
  void set_tree_page_size(size_t n) { tree_page_ = n; }
  void set_chunk(size_t n) { chunk_ = n; }
  Stats stats();
  void reset_stats();
  const FakeRepo* repo(const std::string& id) const;
  std::string stats_json();

  // Control endpoints for the standalone server (POST /_control/fault, GET /_control/stats).
  void enable_control();

 private:
  void handle_main(const httplib::Request& req, httplib::Response& res);
  void handle_cdn(const httplib::Request& req, httplib::Response& res);
  void handle_api(const httplib::Request& req, httplib::Response& res, const std::string& path);
  void handle_resolve(const httplib::Request& req, httplib::Response& res, const std::string& repo_id,
                      const std::string& rev, const std::string& file);
  void serve_body(const httplib::Request& req, httplib::Response& res, const FakeFile& f, bool head);
  bool status_fault(const std::string& path, httplib::Response& res);
  const FakeCommit* commit_for(const FakeRepo& r, const std::string& rev) const;
  bool auth_ok(const FakeRepo& r, const httplib::Request& req, httplib::Response& res);

  std::unique_ptr<httplib::Server> main_, cdn_;
  std::thread main_thread_, cdn_thread_;
  int port_ = 0, cdn_port_ = 0;
  std::map<std::string, FakeRepo> repos_;
  std::map<std::string, std::string> aliases_;
  std::map<std::string, const FakeFile*> by_sha256_;
  std::vector<std::string> tokens_;
  std::mutex mu_;
  std::vector<Fault> faults_;
  Stats stats_;
  std::atomic<uint64_t> rate_{0};
  size_t tree_page_ = 1000;
  size_t chunk_ = 64 * 1024;
  bool control_ = false;
};

FakeFile make_file(const std::string& path, bool lfs, std::string content);

// The repos every hub test uses: acme/tiny (two commits, main + v1.0, LFS and regular files, a
// nested path, an empty file, a file large enough for byte ranges), acme/js (acme/tiny's main files
// but the empty one), acme/gated (needs token "hf_fthost_test_token"), and the alias
// acme/old-tiny -> acme/tiny.
void add_fixture_repos(FakeHub& hub);
// Deterministic 40-hex "commit" from a label.
std::string fake_commit_sha(const std::string& label);
// Deterministic pseudo-random bytes.
std::string fake_bytes(size_t n, uint32_t seed);

}  // namespace fakehub
