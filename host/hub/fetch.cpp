// Blob fetching: range bookkeeping, resumable partial files, space reserved up front, worker threads
// receiving into buffers that the hash follower reads while the download runs, and the final
// verify-and-move.
#include "hub/fetch.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "core/interrupt.h"
#include "core/strings.h"
#include "hub/disk_space.h"
#include "hub/hash_follower.h"
#include "hub/hashing.h"
#include "hub/http_stream.h"
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

// The partial files of the blob at `blob_path`: "<etag>.<anything>.incomplete" (ours) and
// "<etag>.incomplete" (huggingface_hub's). With `remove_stale`, range-list temp files left by a run
// killed between their write and their rename are deleted.
std::vector<std::string> list_partials(const std::string& blob_path, bool remove_stale) {
  std::string dir = blob_path.substr(0, blob_path.rfind('/'));
  std::string etag = blob_path.substr(dir.size() + 1);
  std::vector<std::string> partials;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      const std::string suffix = ".incomplete";
      if (n.size() > etag.size() + suffix.size() && n.compare(0, etag.size() + 1, etag + ".") == 0 &&
          n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
        partials.push_back(dir + "/" + n);
      if (n == etag + suffix) partials.push_back(dir + "/" + n);
      const std::string stale = ".ranges.tmp";
      if (remove_stale && n.compare(0, etag.size() + 1, etag + ".") == 0 && n.size() > stale.size() &&
          n.compare(n.size() - stale.size(), stale.size(), stale) == 0)
        ::unlink((dir + "/" + n).c_str());
    }
    ::closedir(d);
  }
  std::sort(partials.begin(), partials.end());
  partials.erase(std::unique(partials.begin(), partials.end()), partials.end());
  return partials;
}

// Under the blob lock no other process writes these: adopt the partial holding the most bytes (ours
// from a killed run, or huggingface_hub's), delete the rest, and give it this process's name.
std::string adopt_partial(const FetchJob& job, RangeSet& have) {
  std::string mine = job.blob_path + "." + random_hex8() + ".incomplete";
  std::vector<std::string> partials = list_partials(job.blob_path, true);
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

// The range list is saved this often (and after this many new bytes), so a kill -9 loses little.
constexpr auto kSaveEvery = std::chrono::milliseconds(500);
constexpr uint64_t kSaveEveryBytes = 256u << 20;
// Body bytes are received into buffers of this size and written with one pwrite each; a worker has
// kSlots of them, so it keeps receiving while the hash follower reads the ones it lent.
constexpr size_t kBufferSize = 1u << 20;
constexpr size_t kSlots = 4;

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
  std::string partial;
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
  HashFollower* follower = nullptr;  // null when not verifying

  Shared(const FetchJob& j, const HubConfig& c, Progress* p, Progress::File* f, int fd_, std::string part,
         bool r)
      : job(j), cfg(c), progress(p), pfile(f), fd(fd_), partial(std::move(part)), ranged(r) {}

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
    uint64_t prefix;
    {
      std::lock_guard<std::mutex> lk(mu);
      done.add(a, b);
      prefix = done.prefix();
      cv.notify_all();
    }
    if (follower) follower->prefix_grew(prefix);
  }
};

std::string describe_status(const HttpResponse& r) {
  std::string msg = r.header("X-Error-Message");
  return "HTTP " + std::to_string(r.status) + (msg.empty() ? "" : " (" + msg + ")");
}

// One worker's receive buffers: lent to the hash follower when in order, else reused at once.
struct Buffers {
  std::vector<HashFollower::Slot> slots = std::vector<HashFollower::Slot>(kSlots);
  HashFollower::Slot& take(HashFollower* follower) {
    if (follower) return follower->take_free(slots, kBufferSize);
    if (slots[0].data.size() != kBufferSize) slots[0].data.resize(kBufferSize);
    return slots[0];
  }
};

// The body of one range request: each filled buffer is written at its file offset, lent to the hash
// follower when next in line, and recorded in the range list once it is in the file.
class PartSink : public BodySink {
 public:
  PartSink(Shared& s, Buffers& bufs) : s_(s), bufs_(bufs) {}
  uint64_t cur = 0;         // file offset of the next body byte
  uint64_t body_limit = 0;  // where this request's bytes end
  bool problem = false;
  std::string last_problem;
  std::exception_ptr write_error;

  Buffer buffer() override {
    slot_ = &bufs_.take(s_.follower);
    return {slot_->data.data(), slot_->data.size()};
  }
  bool received(size_t n) override {
    if (s_.stop) return false;
    bool last = false;
    if (cur + n > body_limit) {
      if (body_limit == s_.job.size) {
        problem = true;
        last_problem = "the server sent more than the expected " + std::to_string(s_.job.size) + " bytes";
        return false;
      }
      n = static_cast<size_t>(body_limit - cur);  // a range answer longer than asked for
      last = true;
    }
    const char* data = slot_->data.data();
    for (size_t off = 0; off < n;) {
      ssize_t w = ::pwrite(s_.fd, data + off, n - off, static_cast<off_t>(cur + off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        int e = errno;
        // The range list is the truth: whatever this piece got into the file is not counted.
        if (e == ENOSPC || e == EDQUOT) {
          uint64_t have = s_.done_total();
          write_error = capture([&] {
            throw_disk_full("writing '" + s_.partial + "' (" + s_.job.display_name + ", " +
                                std::to_string(have) + " of " + std::to_string(s_.job.size) + " bytes in)",
                            s_.partial.substr(0, s_.partial.rfind('/')), s_.job.size - have);
          });
        } else {
          write_error = std::make_exception_ptr(Error(
              "cannot write '" + s_.partial + "': " + std::strerror(e), "check the disk and HF_HUB_CACHE"));
        }
        return false;
      }
      off += static_cast<size_t>(w);
    }
    if (s_.follower) s_.follower->lend(cur, *slot_, n);
    if (n) s_.mark(cur, cur + n);
    cur += n;
    s_.network_bytes += n;
    if (s_.progress) s_.progress->advance(s_.pfile, n);
    return !last && !s_.stop;
  }

 private:
  template <class F>
  static std::exception_ptr capture(F f) {
    try {
      f();
    } catch (...) {
      return std::current_exception();
    }
    return nullptr;
  }
  Shared& s_;
  Buffers& bufs_;
  HashFollower::Slot* slot_ = nullptr;
};

// Fetches [part.begin, part.end) with retries. Throws ft::Error on a non-retryable answer or when
// retries without progress run out.
void fetch_part(Shared& s, StreamClient& http, Buffers& bufs, Part part) {
  const FetchJob& job = s.job;
  PartSink sink(s, bufs);
  sink.cur = part.begin;
  int failures = 0;
  bool whole_file = false;
  while (sink.cur < part.end) {
    if (s.stop) return;
    Url url = job.url;
    bool restarted = false;
    HttpResponse resp;
    uint64_t start_cur = sink.cur;
    sink.body_limit = part.end;
    sink.problem = false;
    bool abandoned = false;
    try {
      for (int redirects = 0;; ++redirects) {
        HeaderMap h;
        h.emplace("Accept-Encoding", "identity");
        h.emplace("User-Agent", "fthost-hub/0.1");
        if (job.token && url.origin() == job.auth_origin) h.emplace("Authorization", "Bearer " + *job.token);
        bool want_range = sink.cur > 0 || part.end < job.size;
        if (want_range)
          h.emplace("Range", "bytes=" + std::to_string(sink.cur) + "-" +
                                 (part.end < job.size ? std::to_string(part.end - 1) : std::string()));
        ++s.requests;
        resp = http.get(
            url, h,
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
                sink.cur = 0;
                sink.body_limit = job.size;
              } else if (r.status == 206) {
                std::string cr = r.header("Content-Range");  // "bytes a-b/size"
                uint64_t a = 0;
                if (std::sscanf(cr.c_str(), "bytes %lu-", &a) != 1 || a != sink.cur) {
                  sink.problem = true;
                  sink.last_problem =
                      "bad Content-Range '" + cr + "' for a request starting at " + std::to_string(sink.cur);
                  return false;
                }
              }
              return !s.stop.load();
            },
            sink);
        if (resp.status >= 300 && resp.status < 400 && resp.has("Location") && redirects < 10) {
          url = resolve_location(url, resp.header("Location"));
          continue;
        }
        break;
      }
    } catch (const HttpError& e) {
      sink.last_problem = e.what();
      sink.problem = true;
    }
    if (sink.write_error) std::rethrow_exception(sink.write_error);
    if (s.stop || abandoned) return;
    if (restarted) {
      ++s.restarts;
      part.end = job.size;
    }
    if (!sink.problem && resp.status != 200 && resp.status != 206 && resp.status != 0) {
      if (resp.status == 416)
        throw Error("download of '" + job.display_name + "' failed: the server's copy is shorter than the " +
                        std::to_string(job.size) + " bytes it announced (HTTP 416 for a range from byte " +
                        std::to_string(sink.cur) + ")",
                    "run again later; if it repeats, the server or a proxy serves a truncated file");
      if (!retryable_status(resp.status)) {
        throw Error("download of '" + job.display_name + "' from " + url.origin() +
                        " failed: " + describe_status(resp),
                    resp.status == 403 || resp.status == 401
                        ? "the download link may have expired or the token lacks access; run again"
                        : "check the repo, revision and file name");
      }
      sink.last_problem = describe_status(resp);
      sink.problem = true;
    }
    if (sink.cur >= part.end) return;
    if (!sink.problem && (resp.status == 200 || resp.status == 206))
      sink.last_problem = "the connection ended early (truncated body)";
    bool progressed = sink.cur > start_cur || (restarted && sink.cur > 0);
    failures = progressed ? 1 : failures + 1;
    if (failures > s.cfg.max_retries)
      throw Error("download of '" + job.display_name + "' failed after " + std::to_string(failures) +
                      " attempts without progress: " + sink.last_problem,
                  "check the network and run again: the " + human_bytes(s.done_total()) +
                      " already downloaded are kept and resumed");
    ++s.retries;
    if (!sleep_cancellable(progressed ? 0.0 : retry_delay_s(s.cfg, failures, &resp), &s.stop)) return;
  }
}

void worker(Shared& s) {
  StreamClient http(s.cfg.etag_timeout_s, s.cfg.download_timeout_s, s.cfg.ca_bundle, &s.stop);
  Buffers bufs;
  for (;;) {
    Part p{};
    {
      std::lock_guard<std::mutex> lk(s.mu);
      if (s.stop || s.queue.empty()) break;
      p = s.queue.front();
      s.queue.erase(s.queue.begin());
    }
    try {
      fetch_part(s, http, bufs, p);
    } catch (...) {
      s.fail(std::current_exception());
      break;
    }
  }
  if (s.follower) s.follower->wait_returned(bufs.slots);  // the follower may still be reading them
  std::lock_guard<std::mutex> lk(s.mu);
  --s.active;
  s.cv.notify_all();
}

}  // namespace

uint64_t partial_bytes_held(const std::string& blob_path) {
  uint64_t held = 0;
  for (auto& p : list_partials(blob_path, false)) held += allocated_bytes(p);
  return held;
}

FetchStats fetch_blob(const FetchJob& job, const HubConfig& cfg, Progress* progress) {
  std::string dir = job.blob_path.substr(0, job.blob_path.rfind('/'));
  fs::make_dirs(dir);
  RangeSet have;
  std::string partial = adopt_partial(job, have);
  // Space already taken by the partial file (written or reserved by an earlier run) is not needed again.
  uint64_t held = std::max(have.total(), allocated_bytes(partial));
  uint64_t needed = job.size - std::min(job.size, held);
  std::string what = "'" + job.display_name + "'";
  require_free_space(dir, needed, what);

  int fd = ::open(partial.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    throw Error("cannot create '" + partial + "': " + std::strerror(errno),
                "check that HF_HUB_CACHE is writable");
  if (have.total() < job.size) {
    try {
      reserve_space(fd, job.size, dir, needed, what);
    } catch (...) {
      ::close(fd);
      throw;
    }
  }

  bool ranged = cfg.range_connections > 1 && job.size >= cfg.range_min_size;
  Progress::File* pfile = progress ? progress->add_file(job.display_name, job.size, have.total()) : nullptr;
  Shared s(job, cfg, progress, pfile, fd, partial, ranged);
  s.done = have;
  FetchStats stats;
  stats.resumed_bytes = have.total();
  stats.ranges = ranged;
  for (auto& [a, b] : have.missing(job.size)) {
    uint64_t step = ranged ? cfg.range_part_size : (b - a);
    for (uint64_t x = a; x < b; x += step) s.queue.push_back({x, std::min(b, x + step)});
  }

  BlobHashKind kind = cfg.verify ? hash_kind_for_etag(job.etag) : BlobHashKind::none;
  std::unique_ptr<HashFollower> follower;
  if (kind != BlobHashKind::none) {
    follower = std::make_unique<HashFollower>(kind, job.size, fd, partial);
    follower->prefix_grew(have.prefix());  // resumed bytes are read back
    s.follower = follower.get();
  }

  int nworkers = ranged ? std::min<int>(cfg.range_connections, static_cast<int>(s.queue.size()))
                        : (s.queue.empty() ? 0 : 1);
  s.active = nworkers;
  std::vector<std::thread> threads;
  for (int i = 0; i < nworkers; ++i) threads.emplace_back([&s] { worker(s); });

  // Persist the range list now and then, and watch for Ctrl-C, until the workers are done.
  auto last_save = std::chrono::steady_clock::now();
  uint64_t saved_total = have.total();
  for (;;) {
    bool finished;
    RangeSet snapshot;
    {
      std::unique_lock<std::mutex> lk(s.mu);
      s.cv.wait_for(lk, std::chrono::milliseconds(200),
                    [&] { return s.active == 0 || s.done.total() > saved_total + kSaveEveryBytes; });
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
    if (finished) break;
  }
  for (auto& t : threads) t.join();
  if (progress && pfile) progress->finish(pfile);

  std::string digest;
  bool complete = !s.error && !s.stop && s.done.prefix() == job.size;
  try {
    if (s.error) std::rethrow_exception(s.error);
    check_interrupt();
    if (s.stop) throw Interrupted();
    if (complete && follower) digest = follower->finish();
  } catch (...) {
    follower.reset();
    ::close(fd);
    throw;
  }
  follower.reset();
  ::close(fd);
  uint64_t got = s.done.total();
  if (!complete || file_size_or_zero(partial) != job.size) {
    throw Error("download of '" + job.display_name + "' is incomplete: have " + std::to_string(got) + " of " +
                    std::to_string(job.size) + " bytes",
                "run again to resume");
  }
  if (kind != BlobHashKind::none && digest != job.etag) {
    ::unlink(partial.c_str());
    ::unlink(ranges_path(partial).c_str());
    throw Error(std::string(hash_kind_name(kind)) + " mismatch for '" + job.display_name + "': expected " +
                    job.etag + ", got " + digest + "; the downloaded file was deleted",
                "run the download again; if it repeats, a proxy or the server is corrupting data");
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
