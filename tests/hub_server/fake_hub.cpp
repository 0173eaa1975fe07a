// FakeHub implementation. Hashes are computed with OpenSSL's one-shot SHA256()/SHA1(), independently
// of the client's streaming hasher. Byte ranges on file bodies are applied by cpp-httplib itself
// (it slices a full-length content provider); the "ignore range" fault answers with a chunked body,
// which httplib never slices.
#include "fake_hub.h"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstring>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

namespace fakehub {
namespace {

std::string hex(const unsigned char* d, size_t n) {
  static const char* h = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += h[d[i] >> 4];
    s += h[d[i] & 15];
  }
  return s;
}

std::string url_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> split(const std::string& s, char c) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t p = s.find(c, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return out;
}

const std::string& gen_block(uint32_t seed) {
  static std::mutex mu;
  static std::map<uint32_t, std::string> blocks;
  std::lock_guard<std::mutex> lk(mu);
  auto it = blocks.find(seed);
  if (it == blocks.end()) it = blocks.emplace(seed, fake_bytes(1 << 20, seed)).first;
  return it->second;
}

void error(httplib::Response& res, int status, const std::string& code, const std::string& msg) {
  res.status = status;
  if (!code.empty()) res.set_header("X-Error-Code", code);
  res.set_header("X-Error-Message", msg);
  res.set_content("{\"error\":\"" + msg + "\"}", "application/json");
}

}  // namespace

std::string fake_bytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t k = 0; k < 8 && i + k < n; ++k) s[i + k] = static_cast<char>((v >> (8 * k)) & 0xff);
  }
  return s;
}

std::string fake_commit_sha(const std::string& label) {
  unsigned char d[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(label.data()), label.size(), d);
  return hex(d, SHA_DIGEST_LENGTH);
}

void FakeFile::read(uint64_t offset, size_t n, char* out) const {
  if (!gen_size) {
    std::memcpy(out, content.data() + offset, n);
    return;
  }
  const std::string& b = gen_block(gen_seed);
  for (size_t i = 0; i < n;) {
    uint64_t o = offset + i;
    size_t in_block = std::min<size_t>(n - i, (1u << 20) - (o & ((1u << 20) - 1)));
    const char* src = b.data() + (o & ((1u << 20) - 1));
    char x = static_cast<char>((o >> 20) & 0xff);
    for (size_t k = 0; k < in_block; ++k) out[i + k] = static_cast<char>(src[k] ^ x);
    i += in_block;
  }
}

FakeHub::FakeHub() : main_(std::make_unique<httplib::Server>()), cdn_(std::make_unique<httplib::Server>()) {}

FakeHub::~FakeHub() {
  stop();
}

void FakeHub::add_repo(FakeRepo repo) {
  for (auto& c : repo.commits) {
    for (auto& f : c.files) {
      EVP_MD_CTX* s = EVP_MD_CTX_new();
      EVP_MD_CTX* g = EVP_MD_CTX_new();
      EVP_DigestInit_ex(s, EVP_sha256(), nullptr);
      EVP_DigestInit_ex(g, EVP_sha1(), nullptr);
      std::string head = "blob " + std::to_string(f.size());
      EVP_DigestUpdate(g, head.data(), head.size() + 1);
      std::vector<char> buf(1 << 20);
      for (uint64_t off = 0; off < f.size(); off += buf.size()) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), f.size() - off));
        f.read(off, n, buf.data());
        EVP_DigestUpdate(s, buf.data(), n);
        EVP_DigestUpdate(g, buf.data(), n);
      }
      unsigned char d[EVP_MAX_MD_SIZE], e[EVP_MAX_MD_SIZE];
      unsigned dl = 0, el = 0;
      EVP_DigestFinal_ex(s, d, &dl);
      EVP_DigestFinal_ex(g, e, &el);
      EVP_MD_CTX_free(s);
      EVP_MD_CTX_free(g);
      f.sha256 = hex(d, dl);
      f.git_sha1 = hex(e, el);
    }
  }
  std::lock_guard<std::mutex> lk(mu_);
  std::string id = repo.id;
  repos_[id] = std::move(repo);
  for (auto& c : repos_[id].commits)
    for (auto& f : c.files)
      if (f.lfs) by_sha256_[f.sha256] = &f;
}

void FakeHub::add_alias(const std::string& old_id, const std::string& new_id) {
  aliases_[old_id] = new_id;
}
void FakeHub::add_token(const std::string& token) {
  tokens_.push_back(token);
}
void FakeHub::add_fault(const Fault& f) {
  std::lock_guard<std::mutex> lk(mu_);
  faults_.push_back(f);
}
void FakeHub::clear_faults() {
  std::lock_guard<std::mutex> lk(mu_);
  faults_.clear();
}
Stats FakeHub::stats() {
  std::lock_guard<std::mutex> lk(mu_);
  return stats_;
}
void FakeHub::reset_stats() {
  std::lock_guard<std::mutex> lk(mu_);
  stats_ = Stats{};
}
const FakeRepo* FakeHub::repo(const std::string& id) const {
  auto it = repos_.find(id);
  return it == repos_.end() ? nullptr : &it->second;
}

std::string FakeHub::stats_json() {
  Stats s = stats();
  nlohmann::json j = {{"body_bytes", s.body_bytes},       {"resolve_heads", s.resolve_heads},
                      {"resolve_gets", s.resolve_gets},   {"cdn_gets", s.cdn_gets},
                      {"range_gets", s.range_gets},       {"api_calls", s.api_calls},
                      {"cdn_auth_seen", s.cdn_auth_seen}, {"faults_fired", s.faults_fired},
                      {"bytes_by_path", s.bytes_by_path}};
  return j.dump();
}

void FakeHub::enable_control() {
  control_ = true;
}

void FakeHub::start() {
  auto pool = [] { return new httplib::ThreadPool(64); };
  main_->new_task_queue = pool;
  cdn_->new_task_queue = pool;
  main_->set_keep_alive_timeout(2);
  cdn_->set_keep_alive_timeout(2);
  main_->Get(".*", [this](const httplib::Request& q, httplib::Response& r) { handle_main(q, r); });
  main_->Post(".*", [this](const httplib::Request& q, httplib::Response& r) { handle_main(q, r); });
  cdn_->Get(".*", [this](const httplib::Request& q, httplib::Response& r) { handle_cdn(q, r); });
  port_ = main_->bind_to_any_port("127.0.0.1");
  cdn_port_ = cdn_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0 || cdn_port_ <= 0) throw std::runtime_error("FakeHub: cannot bind 127.0.0.1");
  main_thread_ = std::thread([this] { main_->listen_after_bind(); });
  cdn_thread_ = std::thread([this] { cdn_->listen_after_bind(); });
  while (!main_->is_running() || !cdn_->is_running())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void FakeHub::stop() {
  if (main_thread_.joinable()) {
    main_->stop();
    main_thread_.join();
  }
  if (cdn_thread_.joinable()) {
    cdn_->stop();
    cdn_thread_.join();
  }
}

const FakeCommit* FakeHub::commit_for(const FakeRepo& r, const std::string& rev) const {
  std::string sha = rev;
  auto it = r.refs.find(rev);
  if (it != r.refs.end()) sha = it->second;
  if (rev == "HEAD") sha = r.refs.at("main");
  for (auto& c : r.commits)
    if (c.sha == sha) return &c;
  return nullptr;
}

bool FakeHub::auth_ok(const FakeRepo& r, const httplib::Request& req, httplib::Response& res) {
  if (!r.gated) return true;
  std::string auth = req.get_header_value("Authorization");
  if (auth.empty()) {
    error(res, 401, "GatedRepo",
          "Access to model " + r.id +
              " is restricted. You must have access to it and be authenticated to access it. Please log in.");
    return false;
  }
  for (auto& t : tokens_)
    if (auth == "Bearer " + t) return true;
  error(res, 403, "GatedRepo",
        "Access to model " + r.id + " is restricted and you are not in the authorized list.");
  return false;
}

bool FakeHub::status_fault(const std::string& path, httplib::Response& res) {
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& f : faults_) {
    if (f.status_times > 0 && (f.path.empty() || f.path == path)) {
      --f.status_times;
      ++stats_.faults_fired;
      res.status = f.status;
      if (f.retry_after >= 0) res.set_header("Retry-After", std::to_string(f.retry_after));
      res.set_content("injected failure", "text/plain");
      return true;
    }
  }
  return false;
}

void FakeHub::handle_main(const httplib::Request& req, httplib::Response& res) {
  std::string target = req.target.substr(0, req.target.find('?'));
  if (control_ && target == "/_control/stats") {
    res.set_content(stats_json(), "application/json");
    return;
  }
  if (control_ && target == "/_control/fault" && req.method == "POST") {
    auto j = nlohmann::json::parse(req.body);
    Fault f;
    f.path = j.value("path", "");
    f.status_times = j.value("status_times", 0);
    f.status = j.value("status", 503);
    f.retry_after = j.value("retry_after", -1);
    f.drop_times = j.value("drop_times", 0);
    f.drop_after = j.value("drop_after", uint64_t{0});
    f.corrupt_times = j.value("corrupt_times", 0);
    f.corrupt_offset = j.value("corrupt_offset", uint64_t{0});
    f.truncate_times = j.value("truncate_times", 0);
    f.truncate_by = j.value("truncate_by", uint64_t{1});
    f.ignore_range_times = j.value("ignore_range_times", 0);
    if (j.contains("rate")) rate_ = j["rate"].get<uint64_t>();
    add_fault(f);
    res.set_content("{}", "application/json");
    return;
  }
  if (target.rfind("/api/", 0) == 0) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      ++stats_.api_calls;
    }
    handle_api(req, res, target);
    return;
  }
  // /{org}/{name}/resolve/{rev}/{path...}
  auto parts = split(target.substr(1), '/');
  if (parts.size() >= 5 && parts[2] == "resolve") {
    std::string repo_id = url_decode(parts[0]) + "/" + url_decode(parts[1]);
    std::string file;
    for (size_t i = 4; i < parts.size(); ++i) file += (i > 4 ? "/" : "") + url_decode(parts[i]);
    auto al = aliases_.find(repo_id);
    if (al != aliases_.end()) {
      res.status = 307;
      res.set_header("Location",
                     "/" + al->second + "/resolve/" + target.substr(target.find("/resolve/") + 9));
      return;
    }
    handle_resolve(req, res, repo_id, url_decode(parts[3]), file);
    return;
  }
  error(res, 404, "", "no route for " + target);
}

void FakeHub::handle_resolve(const httplib::Request& req, httplib::Response& res, const std::string& repo_id,
                             const std::string& rev, const std::string& file) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    ++(req.method == "HEAD" ? stats_.resolve_heads : stats_.resolve_gets);
  }
  auto it = repos_.find(repo_id);
  if (it == repos_.end()) return error(res, 404, "RepoNotFound", "Repository not found");
  const FakeRepo& r = it->second;
  if (!auth_ok(r, req, res)) return;
  const FakeCommit* c = commit_for(r, rev);
  if (!c) return error(res, 404, "RevisionNotFound", "Invalid rev id: " + rev);
  const FakeFile* f = nullptr;
  for (auto& x : c->files)
    if (x.path == file) f = &x;
  if (!f) {
    res.set_header("X-Repo-Commit", c->sha);
    return error(res, 404, "EntryNotFound", "Entry not found");
  }
  if (status_fault(file, res)) return;
  res.set_header("X-Repo-Commit", c->sha);
  if (f->lfs) {
    res.status = 302;
    res.set_header("Location", "http://127.0.0.1:" + std::to_string(cdn_port_) + "/blobs/" + f->sha256 +
                                   "?X-Amz-Signature=fake&response-content-disposition=attachment");
    res.set_header("X-Linked-Etag", "\"" + f->sha256 + "\"");
    res.set_header("X-Linked-Size", std::to_string(f->size()));
    res.set_header("ETag", "W/\"" + f->git_sha1 + "-pointer\"");
    return;
  }
  res.set_header("ETag", "\"" + f->git_sha1 + "\"");
  serve_body(req, res, *f, req.method == "HEAD");
}

void FakeHub::handle_cdn(const httplib::Request& req, httplib::Response& res) {
  std::string target = req.target.substr(0, req.target.find('?'));
  const FakeFile* f = nullptr;
  if (target.rfind("/blobs/", 0) == 0) {
    auto it = by_sha256_.find(target.substr(7));
    if (it != by_sha256_.end()) f = it->second;
  }
  if (!f) return error(res, 404, "", "no such blob");
  {
    std::lock_guard<std::mutex> lk(mu_);
    ++stats_.cdn_gets;
    if (req.has_header("Authorization")) {
      ++stats_.cdn_auth_seen;
      return error(res, 400, "", "Only one auth mechanism allowed; the CDN URL is already signed");
    }
  }
  if (status_fault(f->path, res)) return;
  res.set_header("ETag", "\"" + f->sha256 + "\"");
  serve_body(req, res, *f, req.method == "HEAD");
}

void FakeHub::serve_body(const httplib::Request& req, httplib::Response& res, const FakeFile& f, bool head) {
  uint64_t size = f.size();
  res.set_header("Accept-Ranges", "bytes");
  if (head) {
    res.status = 200;
    res.set_header("Content-Length", std::to_string(size));
    return;
  }
  Fault applied;
  bool ignore_range = false, truncate = false, drop = false, corrupt = false, stall = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!req.ranges.empty()) ++stats_.range_gets;
    for (auto& x : faults_) {
      if (!x.path.empty() && x.path != f.path) continue;
      if (x.ignore_range_times > 0 && !req.ranges.empty() && !ignore_range) {
        --x.ignore_range_times;
        ignore_range = true;
        ++stats_.faults_fired;
      }
      if (x.truncate_times > 0 && !truncate) {
        --x.truncate_times;
        truncate = true;
        applied.truncate_by = x.truncate_by;
        ++stats_.faults_fired;
      }
      if (x.drop_times > 0 && !drop) {
        --x.drop_times;
        drop = true;
        applied.drop_after = x.drop_after;
        ++stats_.faults_fired;
      }
      if (x.stall_times > 0 && !stall) {
        --x.stall_times;
        stall = true;
        applied.drop_after = x.drop_after;
        applied.stall_s = x.stall_s;
        ++stats_.faults_fired;
      }
      if (x.corrupt_times > 0 && !corrupt) {
        --x.corrupt_times;
        corrupt = true;
        applied.corrupt_offset = x.corrupt_offset;
        ++stats_.faults_fired;
      }
    }
  }
  struct State {
    bool first = true;
    uint64_t start = 0, sent = 0;
    std::chrono::steady_clock::time_point t0;
  };
  auto st = std::make_shared<State>();
  uint64_t rate = rate_;
  size_t chunk = chunk_;
  const FakeFile* fp = &f;
  auto produce = [this, st, rate, chunk, fp, drop, stall, corrupt, applied](uint64_t offset, uint64_t end,
                                                                            httplib::DataSink& sink) {
    if (st->first) {
      st->first = false;
      st->start = offset;
      st->t0 = std::chrono::steady_clock::now();
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(chunk, end - offset));
    bool cut = false;
    if ((drop || stall) && st->sent + n >= applied.drop_after) {
      n = static_cast<size_t>(applied.drop_after > st->sent ? applied.drop_after - st->sent : 0);
      cut = true;
    }
    std::string buf(n, '\0');
    fp->read(offset, n, buf.data());
    if (corrupt && applied.corrupt_offset >= offset && applied.corrupt_offset < offset + n)
      buf[applied.corrupt_offset - offset] ^= 0x5a;
    if (rate) {
      double due = static_cast<double>(st->sent + n) / static_cast<double>(rate);
      double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - st->t0).count();
      if (due > el) std::this_thread::sleep_for(std::chrono::duration<double>(due - el));
    }
    if (n && !sink.write(buf.data(), n)) return false;
    st->sent += n;
    {
      std::lock_guard<std::mutex> lk(mu_);
      stats_.body_bytes += n;
      stats_.bytes_by_path[fp->path] += n;
    }
    if (cut) {
      if (stall) std::this_thread::sleep_for(std::chrono::duration<double>(applied.stall_s));
      return false;  // httplib closes the connection mid-body
    }
    return true;
  };
  if (ignore_range) {
    res.status = 200;
    res.set_chunked_content_provider("application/octet-stream",
                                     [produce, size](size_t offset, httplib::DataSink& sink) {
                                       if (offset >= size) {
                                         sink.done();
                                         return true;
                                       }
                                       return produce(offset, size, sink);
                                     });
    return;
  }
  uint64_t len = size;
  if (truncate) len = size > applied.truncate_by ? size - applied.truncate_by : 0;
  // With a Range header httplib picks 206 and slices this provider itself.
  res.set_content_provider(static_cast<size_t>(len), "application/octet-stream",
                           [produce](size_t offset, size_t length, httplib::DataSink& sink) {
                             return produce(offset, offset + length, sink);
                           });
}

void FakeHub::handle_api(const httplib::Request& req, httplib::Response& res, const std::string& target) {
  // /api/models/{org}/{name}[/revision/{rev} | /tree/{rev}[/path] | /paths-info/{rev}]
  auto parts = split(target.substr(5), '/');
  if (parts.size() < 3 || parts[0] != "models") return error(res, 404, "", "no route");
  std::string repo_id = url_decode(parts[1]) + "/" + url_decode(parts[2]);
  auto it = repos_.find(repo_id);
  if (it == repos_.end()) return error(res, 404, "RepoNotFound", "Repository not found");
  const FakeRepo& r = it->second;
  if (status_fault("", res)) return;
  std::string kind = parts.size() > 3 ? parts[3] : "";
  std::string rev = parts.size() > 4 ? url_decode(parts[4]) : "main";
  const FakeCommit* c = commit_for(r, rev);
  if (!c) return error(res, 404, "RevisionNotFound", "Invalid rev id: " + rev);
  auto entry = [&](const FakeFile& f) {
    nlohmann::json e = {{"type", "file"}, {"path", f.path}, {"size", f.size()}, {"oid", f.git_sha1}};
    if (f.lfs) e["lfs"] = {{"oid", f.sha256}, {"size", f.size()}, {"pointerSize", 134}};
    e["lastCommit"] = {{"id", c->sha}, {"title", c->title}, {"date", "2024-01-01T00:00:00.000Z"}};
    return e;
  };
  if (kind.empty() || kind == "revision") {
    // The real Hub serves the info of gated repos to anyone; only files are refused.
    nlohmann::json sib = nlohmann::json::array();
    for (auto& f : c->files) sib.push_back({{"rfilename", f.path}});
    nlohmann::json j = {{"_id", "fake" + c->sha.substr(0, 8)},
                        {"id", r.id},
                        {"modelId", r.id},
                        {"sha", c->sha},
                        {"private", false},
                        {"gated", r.gated ? nlohmann::json("auto") : nlohmann::json(false)},
                        {"siblings", sib},
                        {"downloads", 0},
                        {"likes", 0},
                        {"tags", nlohmann::json::array()},
                        {"lastModified", "2024-01-01T00:00:00.000Z"}};
    res.status = 200;
    res.set_content(j.dump(), "application/json");
    return;
  }
  if (kind == "tree") {
    std::vector<const FakeFile*> files;
    std::vector<std::string> dirs;
    std::string prefix;
    for (size_t i = 5; i < parts.size(); ++i) prefix += (i > 5 ? "/" : "") + url_decode(parts[i]);
    for (auto& f : c->files) {
      if (!prefix.empty() && f.path.rfind(prefix + "/", 0) != 0) continue;
      files.push_back(&f);
      // directories are listed too, as the Hub does with recursive=true
      for (size_t p = f.path.find('/'); p != std::string::npos; p = f.path.find('/', p + 1)) {
        std::string d = f.path.substr(0, p);
        if ((prefix.empty() || d.size() > prefix.size()) &&
            std::find(dirs.begin(), dirs.end(), d) == dirs.end())
          dirs.push_back(d);
      }
    }
    nlohmann::json all = nlohmann::json::array();
    for (auto& d : dirs)
      all.push_back({{"type", "directory"}, {"path", d}, {"oid", fake_commit_sha("dir" + d)}, {"size", 0}});
    for (auto* f : files) all.push_back(entry(*f));
    size_t cursor = req.has_param("cursor") ? std::stoul(req.get_param_value("cursor")) : 0;
    nlohmann::json page = nlohmann::json::array();
    for (size_t i = cursor; i < all.size() && i < cursor + tree_page_; ++i) page.push_back(all[i]);
    if (cursor + tree_page_ < all.size()) {
      std::string next =
          endpoint() + target + "?recursive=true&expand=false&cursor=" + std::to_string(cursor + tree_page_);
      res.set_header("Link", "<" + next + ">; rel=\"next\"");
    }
    res.status = 200;
    res.set_content(page.dump(), "application/json");
    return;
  }
  if (kind == "paths-info" && req.method == "POST") {
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    nlohmann::json out = nlohmann::json::array();
    if (body.is_object() && body.contains("paths"))
      for (auto& p : body["paths"])
        for (auto& f : c->files)
          if (f.path == p.get<std::string>()) out.push_back(entry(f));
    res.status = 200;
    res.set_content(out.dump(), "application/json");
    return;
  }
  error(res, 404, "", "no route for " + target);
}

FakeFile make_file(const std::string& path, bool lfs, std::string content) {
  FakeFile f;
  f.path = path;
  f.lfs = lfs;
  f.content = std::move(content);
  return f;
}

void add_fixture_repos(FakeHub& hub) {
  FakeRepo tiny;
  tiny.id = "acme/tiny";
  FakeCommit v1{fake_commit_sha("acme/tiny@1"), "initial", {}};
  v1.files.push_back(make_file("config.json", false, "{\"model_type\": \"llama\", \"hidden_size\": 64}\n"));
  v1.files.push_back(make_file("model.safetensors", true, fake_bytes(200 * 1024, 1)));
  v1.files.push_back(make_file("README.md", false, "# tiny v1\n"));
  FakeCommit v2{fake_commit_sha("acme/tiny@2"), "update weights", {}};
  v2.files.push_back(
      make_file("config.json", false, "{\"model_type\": \"llama\", \"hidden_size\": 64, \"layers\": 2}\n"));
  v2.files.push_back(make_file("model.safetensors", true, fake_bytes(300 * 1024, 2)));
  v2.files.push_back(make_file("README.md", false, "# tiny\n"));  // regular files may be any size
  v2.files.push_back(
      make_file("tokenizer.json", false, "{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\"}}\n"));
  v2.files.push_back(make_file("sub/dir/notes.txt", false, fake_bytes(70 * 1024, 3)));
  v2.files.push_back(make_file("weights/big.bin", true, fake_bytes(3 * 1024 * 1024 + 12345, 4)));
  v2.files.push_back(make_file("empty.txt", false, ""));
  tiny.commits = {v1, v2};
  tiny.refs = {{"main", v2.sha}, {"v1.0", v1.sha}};
  hub.add_repo(tiny);

  // acme/tiny without its empty file: @huggingface/hub 2.17 cannot download a 0-byte file (its
  // Range: bytes=0-0 probe gets no Content-Range back), so the JS side of the interop test uses this.
  FakeRepo js;
  js.id = "acme/js";
  FakeCommit j{fake_commit_sha("acme/js@1"), "for the JS client", {}};
  for (auto& f : v2.files)
    if (f.size() > 0) j.files.push_back(f);
  js.commits = {j};
  js.refs = {{"main", j.sha}};
  hub.add_repo(js);

  FakeRepo gated;
  gated.id = "acme/gated";
  gated.gated = true;
  FakeCommit g{fake_commit_sha("acme/gated@1"), "gated", {}};
  g.files.push_back(make_file("config.json", false, "{\"model_type\": \"qwen2\"}\n"));
  g.files.push_back(make_file("model.safetensors", true, fake_bytes(50 * 1024, 5)));
  gated.commits = {g};
  gated.refs = {{"main", g.sha}};
  hub.add_repo(gated);
  hub.add_token("hf_fthost_test_token");
  hub.add_alias("acme/old-tiny", "acme/tiny");
}

}  // namespace fakehub
