// Blob fetching: range bookkeeping, resumable partial files, worker threads, hashing that follows the
// contiguous written prefix while the download runs, and the final verify-and-move.
#include "hub/fetch.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "core/interrupt.h"
#include "core/strings.h"
#include "hub/hashing.h"
#include "hub/http.h"
#include "hub/retry.h"

namespace ft::hub {
namespace {

// ---- byte-range set: sorted, disjoint, merged [begin, end) intervals ---------------------------
class RangeSet {
 public:
  void add(uint64_t a, uint64_t b) {
    if (a >= b) return;
    std::vector<std::pair<uint64_t, uint64_t>> out;
    for (auto& r : v_) {
      if (r.second < a || r.first > b) {
        out.push_back(r);
      } else {
        a = std::min(a, r.first);
        b = std::max(b, r.second);
      }
    }
    out.emplace_back(a, b);
    std::sort(out.begin(), out.end());
    v_ = std::move(out);
  }
  uint64_t prefix() const { return !v_.empty() && v_[0].first == 0 ? v_[0].second : 0; }
  uint64_t total() const {
    uint64_t t = 0;
    for (auto& r : v_) t += r.second - r.first;
    return t;
  }
  std::vector<std::pair<uint64_t, uint64_t>> missing(uint64_t size) const {
    std::vector<std::pair<uint64_t, uint64_t>> out;
    uint64_t at = 0;
    for (auto& r : v_) {
      if (r.first > at) out.emplace_back(at, std::min(r.first, size));
      at = std::max(at, r.second);
    }
    if (at < size) out.emplace_back(at, size);
    return out;
  }
  void clamp(uint64_t size) {
    RangeSet c;
    for (auto& r : v_)
      if (r.first < size) c.add(r.first, std::min(r.second, size));
    *this = c;
  }
  nlohmann::json to_json() const {
    auto a = nlohmann::json::array();
    for (auto& r : v_) a.push_back({r.first, r.second});
    return a;
  }

 private:
  std::vector<std::pair<uint64_t, uint64_t>> v_;
};

std::string ranges_path(const std::string& partial) {
  return partial + ".ranges";
}

uint64_t file_size_or_zero(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

// What a partial file holds: its sidecar when present and consistent, else its length as a prefix.
RangeSet load_partial(const std::string& partial, const FetchJob& job) {
  RangeSet rs;
  std::string side = ranges_path(partial);
  uint64_t len = file_size_or_zero(partial);
  if (fs::exists(side)) {
    try {
      auto j = nlohmann::json::parse(fs::read_file(side));
      if (j.at("etag").get<std::string>() != job.etag || j.at("size").get<uint64_t>() != job.size) return rs;
      for (auto& r : j.at("done")) rs.add(r.at(0).get<uint64_t>(), r.at(1).get<uint64_t>());
    } catch (const std::exception&) {
      return RangeSet{};  // unreadable bookkeeping: trust nothing
    }
  } else {
    rs.add(0, len);
  }
  rs.clamp(std::min(len, job.size));
  return rs;
}

void save_partial(const std::string& partial, const FetchJob& job, const RangeSet& rs) {
  nlohmann::json j = {{"etag", job.etag}, {"size", job.size}, {"done", rs.to_json()}};
  // temp + rename without fsync: this survives kill -9; after a power loss the hash check catches
  // anything the page cache lost.
  std::string side = ranges_path(partial);
  std::string tmp = side + ".tmp";
  std::string text = j.dump();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return;
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (ok) ::rename(tmp.c_str(), side.c_str());
}

std::string random_hex8() {
  std::random_device rd;
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", rd());
  return buf;
}

// Under the blob lock no other process writes these: adopt the partial holding the most bytes (ours
// from a killed run, or huggingface_hub's), delete the rest, and give it this process's name.
std::string adopt_partial(const FetchJob& job, RangeSet& have) {
  std::string dir = job.blob_path.substr(0, job.blob_path.rfind('/'));
  std::string etag = job.etag;
  std::string mine = job.blob_path + "." + random_hex8() + ".incomplete";
  std::vector<std::string> partials;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      const std::string suffix = ".incomplete";
      if (n.size() > etag.size() + suffix.size() && n.compare(0, etag.size() + 1, etag + ".") == 0 &&
          n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
        partials.push_back(dir + "/" + n);
      if (n == etag + suffix) partials.push_back(dir + "/" + n);
      // A range-list temp file left by a run killed between its write and its rename.
      const std::string stale = ".ranges.tmp";
      if (n.compare(0, etag.size() + 1, etag + ".") == 0 && n.size() > stale.size() &&
          n.compare(n.size() - stale.size(), stale.size(), stale) == 0)
        ::unlink((dir + "/" + n).c_str());
    }
    ::closedir(d);
  }
  std::sort(partials.begin(), partials.end());
  partials.erase(std::unique(partials.begin(), partials.end()), partials.end());
  std::string best;
  RangeSet best_rs;
  for (auto& p : partials) {
    RangeSet rs = load_partial(p, job);
    if (best.empty() || rs.total() > best_rs.total()) {
      if (!best.empty()) {
        ::unlink(best.c_str());
        ::unlink(ranges_path(best).c_str());
      }
      best = p;
      best_rs = rs;
    } else {
      ::unlink(p.c_str());
      ::unlink(ranges_path(p).c_str());
    }
  }
  if (!best.empty()) {
    ::rename(best.c_str(), mine.c_str());
    if (fs::exists(ranges_path(best))) ::rename(ranges_path(best).c_str(), ranges_path(mine).c_str());
    have = best_rs;
  }
  save_partial(mine, job, have);  // from here on the sidecar is the truth, even for holes
  return mine;
}

void check_disk_space(const std::string& dir, uint64_t needed, const std::string& what) {
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) != 0) return;
  uint64_t free_bytes = static_cast<uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  if (free_bytes < needed)
    throw Error("disk full: " + what + " needs " + human_bytes(needed) + " more but only " +
                    human_bytes(free_bytes) + " is free in '" + dir + "'",
                "free some space, or point HF_HUB_CACHE (or HF_HOME) at a larger disk");
}

// The range list is saved this often (and after this many new bytes), so a kill -9 loses little.
constexpr auto kSaveEvery = std::chrono::milliseconds(500);
constexpr uint64_t kSaveEveryBytes = 16u << 20;
// Body bytes are written to the partial file in pieces of this size.
constexpr size_t kWriteBuffer = 1u << 20;

// ---- the shared state of one blob download ------------------------------------------------------
struct Part {
  uint64_t begin, end;
};

struct Shared {
  const FetchJob& job;
  const HubConfig& cfg;
  Progress* progress;
  Progress::File* pfile;
  int fd;
  bool ranged;  // parallel range mode
  std::mutex mu;
  std::condition_variable cv;
  RangeSet done;
  std::vector<Part> queue;
  std::atomic<bool> stop{false};
  std::exception_ptr error;
  std::atomic<bool> whole_file_claimed{false};
  std::atomic<uint64_t> network_bytes{0};
  std::atomic<int> requests{0}, retries{0}, restarts{0};
  int active = 0;
  // Hashing: bytes [0, hashed) went into `hasher`, in order. A worker whose freshly written bytes
  // start exactly at `hashed` hashes them from its buffer; the rest is read back from the file by
  // fetch_blob's loop. Both under hash_mu.
  BlobHasher* hasher = nullptr;
  std::mutex hash_mu;
  std::atomic<uint64_t> hashed{0};

  Shared(const FetchJob& j, const HubConfig& c, Progress* p, Progress::File* f, int fd_, bool r)
      : job(j), cfg(c), progress(p), pfile(f), fd(fd_), ranged(r) {}

  void hash_in_order(uint64_t offset, const char* data, size_t n) {
    if (!hasher) return;
    std::unique_lock<std::mutex> lk(hash_mu, std::try_to_lock);
    if (!lk || hashed != offset) return;  // not next in line (or being read back): left to fetch_blob
    hasher->update(data, n);
    hashed += n;
  }

  void fail(std::exception_ptr e) {
    std::lock_guard<std::mutex> lk(mu);
    if (!error) error = e;
    stop = true;
    cv.notify_all();
  }
  uint64_t done_total() {
    std::lock_guard<std::mutex> lk(mu);
    return done.total();
  }
  void mark(uint64_t a, uint64_t b) {
    std::lock_guard<std::mutex> lk(mu);
    done.add(a, b);
    cv.notify_all();
  }
};

std::string describe_status(const HttpResponse& r) {
  std::string msg = r.header("X-Error-Message");
  return "HTTP " + std::to_string(r.status) + (msg.empty() ? "" : " (" + msg + ")");
}

// Fetches [part.begin, part.end) with retries. Throws ft::Error on a non-retryable answer or when
// retries without progress run out.
void fetch_part(Shared& s, HttpSession& http, Part part) {
  const FetchJob& job = s.job;
  uint64_t cur = part.begin;
  int failures = 0;
  std::string last_problem;
  bool whole_file = false;
  std::vector<char> wbuf;
  wbuf.reserve(kWriteBuffer);
  while (cur < part.end) {
    if (s.stop) return;
    Url url = job.url;
    bool restarted = false;
    HttpResponse resp;
    uint64_t start_cur = cur;
    uint64_t body_limit = part.end;
    std::exception_ptr write_error;
    uint64_t unmarked_from = cur;
    bool problem = false;
    bool abandoned = false;
    // Body bytes are gathered into `wbuf` (file offset `unmarked_from`) and written in large pwrites;
    // the range list learns about them only once they are in the file.
    wbuf.clear();
    auto flush = [&]() -> bool {
      size_t off = 0;
      while (off < wbuf.size()) {
        ssize_t w =
            ::pwrite(s.fd, wbuf.data() + off, wbuf.size() - off, static_cast<off_t>(unmarked_from + off));
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
          int e = errno;
          write_error = std::make_exception_ptr(
              e == ENOSPC
                  ? Error("disk full while writing '" + job.blob_path + "' (" + job.display_name + ")",
                          "free some space, or point HF_HUB_CACHE at a larger disk; the partial "
                          "file is kept and the next run resumes it")
                  : Error("cannot write '" + job.blob_path + "': " + std::strerror(e)));
          return false;
        }
        off += static_cast<size_t>(w);
      }
      s.hash_in_order(unmarked_from, wbuf.data(), wbuf.size());
      if (!wbuf.empty()) s.mark(unmarked_from, unmarked_from + wbuf.size());
      unmarked_from += wbuf.size();
      wbuf.clear();
      return true;
    };
    try {
      for (int redirects = 0;; ++redirects) {
        HeaderMap h;
        h.emplace("Accept-Encoding", "identity");
        h.emplace("User-Agent", "fthost-hub/0.1");
        if (job.token && url.origin() == job.auth_origin) h.emplace("Authorization", "Bearer " + *job.token);
        bool want_range = cur > 0 || part.end < job.size;
        if (want_range)
          h.emplace("Range", "bytes=" + std::to_string(cur) + "-" +
                                 (part.end < job.size ? std::to_string(part.end - 1) : std::string()));
        ++s.requests;
        resp = http.request(
            "GET", url, h,
            [&](const HttpResponse& r) {
              if (r.status == 200 && want_range) {
                // The server ignored Range: the body starts at byte 0. One worker restarts from
                // there and takes the whole file; the others leave it to that one.
                if (s.ranged && !whole_file && s.whole_file_claimed.exchange(true)) {
                  abandoned = true;
                  return false;
                }
                whole_file = true;
                restarted = true;
                if (!flush()) return false;
                cur = 0;
                unmarked_from = 0;
                body_limit = job.size;
              } else if (r.status == 206) {
                std::string cr = r.header("Content-Range");  // "bytes a-b/size"
                uint64_t a = 0;
                if (std::sscanf(cr.c_str(), "bytes %lu-", &a) != 1 || a != cur) {
                  problem = true;
                  last_problem =
                      "bad Content-Range '" + cr + "' for a request starting at " + std::to_string(cur);
                  return false;
                }
              }
              return !s.stop.load();
            },
            [&](const char* data, size_t n) {
              if (s.stop) return false;
              bool last = false;
              if (cur + n > body_limit) {
                if (body_limit == job.size) {
                  problem = true;
                  last_problem =
                      "the server sent more than the expected " + std::to_string(job.size) + " bytes";
                  return false;
                }
                n = static_cast<size_t>(body_limit - cur);  // a range answer longer than asked for
                last = true;
              }
              if (wbuf.size() + n > kWriteBuffer && !flush()) return false;
              wbuf.insert(wbuf.end(), data, data + n);
              cur += n;
              s.network_bytes += n;
              if (s.progress) s.progress->advance(s.pfile, n);
              return !last;
            });
        if (resp.status >= 300 && resp.status < 400 && resp.has("Location") && redirects < 10) {
          url = resolve_location(url, resp.header("Location"));
          continue;
        }
        break;
      }
    } catch (const HttpError& e) {
      last_problem = e.what();
      problem = true;
    }
    if (!write_error) flush();
    if (write_error) std::rethrow_exception(write_error);
    if (s.stop || abandoned) return;
    if (restarted) {
      ++s.restarts;
      part.end = job.size;
    }
    if (!problem && resp.status != 200 && resp.status != 206 && resp.status != 0) {
      if (resp.status == 416)
        throw Error("download of '" + job.display_name + "' failed: the server's copy is shorter than the " +
                        std::to_string(job.size) + " bytes it announced (HTTP 416 for a range from byte " +
                        std::to_string(cur) + ")",
                    "run again later; if it repeats, the server or a proxy serves a truncated file");
      if (!retryable_status(resp.status)) {
        throw Error("download of '" + job.display_name + "' from " + url.origin() +
                        " failed: " + describe_status(resp),
                    resp.status == 403 || resp.status == 401
                        ? "the download link may have expired or the token lacks access; run again"
                        : "check the repo, revision and file name");
      }
      last_problem = describe_status(resp);
      problem = true;
    }
    if (cur >= part.end) return;
    if (!problem && (resp.status == 200 || resp.status == 206))
      last_problem = "the connection ended early (truncated body)";
    bool progressed = cur > start_cur || (restarted && cur > 0);
    failures = progressed ? 1 : failures + 1;
    if (failures > s.cfg.max_retries)
      throw Error("download of '" + job.display_name + "' failed after " + std::to_string(failures) +
                      " attempts without progress: " + last_problem,
                  "check the network and run again: the " + human_bytes(s.done_total()) +
                      " already downloaded are kept and resumed");
    ++s.retries;
    if (!sleep_cancellable(progressed ? 0.0 : retry_delay_s(s.cfg, failures, &resp), &s.stop)) return;
  }
}

void worker(Shared& s) {
  HttpSession http(s.cfg.etag_timeout_s, s.cfg.download_timeout_s);
  for (;;) {
    Part p{};
    {
      std::lock_guard<std::mutex> lk(s.mu);
      if (s.stop || s.queue.empty()) break;
      p = s.queue.front();
      s.queue.erase(s.queue.begin());
    }
    try {
      fetch_part(s, http, p);
    } catch (...) {
      s.fail(std::current_exception());
      break;
    }
  }
  std::lock_guard<std::mutex> lk(s.mu);
  --s.active;
  s.cv.notify_all();
}

}  // namespace

FetchStats fetch_blob(const FetchJob& job, const HubConfig& cfg, Progress* progress) {
  std::string dir = job.blob_path.substr(0, job.blob_path.rfind('/'));
  fs::make_dirs(dir);
  RangeSet have;
  std::string partial = adopt_partial(job, have);
  check_disk_space(dir, job.size - std::min(job.size, have.total()), "'" + job.display_name + "'");

  int fd = ::open(partial.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    throw Error("cannot create '" + partial + "': " + std::strerror(errno),
                "check that HF_HUB_CACHE is writable");

  bool ranged = cfg.range_connections > 1 && job.size >= cfg.range_min_size;
  Progress::File* pfile = progress ? progress->add_file(job.display_name, job.size, have.total()) : nullptr;
  Shared s(job, cfg, progress, pfile, fd, ranged);
  s.done = have;
  FetchStats stats;
  stats.resumed_bytes = have.total();
  stats.ranges = ranged;
  for (auto& [a, b] : have.missing(job.size)) {
    uint64_t step = ranged ? cfg.range_part_size : (b - a);
    for (uint64_t x = a; x < b; x += step) s.queue.push_back({x, std::min(b, x + step)});
  }

  BlobHashKind kind = cfg.verify ? hash_kind_for_etag(job.etag) : BlobHashKind::none;
  BlobHasher hasher(kind, job.size);
  if (kind != BlobHashKind::none) s.hasher = &hasher;

  int nworkers = ranged ? std::min<int>(cfg.range_connections, static_cast<int>(s.queue.size()))
                        : (s.queue.empty() ? 0 : 1);
  s.active = nworkers;
  std::vector<std::thread> threads;
  for (int i = 0; i < nworkers; ++i) threads.emplace_back([&s] { worker(s); });

  // Hash what the workers could not (resumed bytes, ranges that arrived early) by reading the
  // contiguous prefix back as it grows; persist the range list now and then.
  std::vector<char> buf(4 << 20);
  auto last_save = std::chrono::steady_clock::now();
  uint64_t saved_total = have.total();
  std::exception_ptr hash_error;
  for (;;) {
    uint64_t upto;
    bool finished;
    RangeSet snapshot;
    {
      std::unique_lock<std::mutex> lk(s.mu);
      s.cv.wait_for(lk, std::chrono::milliseconds(200),
                    [&] { return s.active == 0 || s.done.prefix() > s.hashed + buf.size(); });
      upto = s.done.prefix();
      finished = s.active == 0;
      auto now = std::chrono::steady_clock::now();
      if (finished || now - last_save > kSaveEvery || s.done.total() > saved_total + kSaveEveryBytes) {
        snapshot = s.done;
        last_save = now;
        saved_total = s.done.total();
      }
    }
    if (interrupt_requested()) s.stop = true;
    if (snapshot.total() > 0) save_partial(partial, job, snapshot);
    while (kind != BlobHashKind::none && !hash_error) {
      std::lock_guard<std::mutex> hl(s.hash_mu);
      uint64_t at = s.hashed;
      if (at >= upto) break;
      size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), upto - at));
      ssize_t r = ::pread(fd, buf.data(), n, static_cast<off_t>(at));
      if (r <= 0) {
        hash_error = std::make_exception_ptr(
            Error("cannot read back '" + partial + "' to verify it: " + std::strerror(errno)));
        break;
      }
      hasher.update(buf.data(), static_cast<size_t>(r));
      s.hashed += static_cast<uint64_t>(r);
    }
    if (finished) break;
  }
  for (auto& t : threads) t.join();
  ::close(fd);
  if (progress && pfile) progress->finish(pfile);

  if (s.error) std::rethrow_exception(s.error);
  check_interrupt();
  if (hash_error) std::rethrow_exception(hash_error);
  if (s.stop) throw Interrupted();
  uint64_t got = s.done.total();
  if (s.done.prefix() != job.size || file_size_or_zero(partial) != job.size) {
    throw Error("download of '" + job.display_name + "' is incomplete: have " + std::to_string(got) + " of " +
                    std::to_string(job.size) + " bytes",
                "run again to resume");
  }
  if (kind != BlobHashKind::none) {
    std::string digest = hasher.hex_digest();
    if (digest != job.etag) {
      ::unlink(partial.c_str());
      ::unlink(ranges_path(partial).c_str());
      throw Error(std::string(hash_kind_name(kind)) + " mismatch for '" + job.display_name + "': expected " +
                      job.etag + ", got " + digest + "; the downloaded file was deleted",
                  "run the download again; if it repeats, a proxy or the server is corrupting data");
    }
  }
  mode_t um = ::umask(0);
  ::umask(um);
  ::chmod(partial.c_str(), 0666 & ~um);
  fs::rename_durable(partial, job.blob_path);
  ::unlink(ranges_path(partial).c_str());
  stats.network_bytes = s.network_bytes;
  stats.requests = s.requests;
  stats.retries = s.retries;
  stats.restarts = s.restarts;
  return stats;
}

}  // namespace ft::hub
