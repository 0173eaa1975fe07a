// HubClient: metadata (HEAD), the download decision tree of hf_hub_download, snapshot_download with a
// pool of file workers, the JSON API calls, cache fallbacks and user-facing HTTP errors.
#include "hub/hub.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"
#include "core/fs.h"
#include "core/interrupt.h"
#include "hub/disk_space.h"
#include "hub/fnmatch.h"
#include "hub/retry.h"

namespace ft::hub {
namespace {

// HEAD and API calls retry a network failure this many times before falling back to the cache
// (429 and 5xx answers get the full cfg.max_retries with backoff).
constexpr int kMetadataNetworkRetries = 1;

std::string normalize_etag(std::string e) {
  if (e.rfind("W/", 0) == 0) e = e.substr(2);
  e.erase(std::remove(e.begin(), e.end(), '"'), e.end());
  return e;
}

std::string what_of(const std::string& repo_id, const std::string& revision, const std::string& filename) {
  std::string w = "'" + repo_id + "'";
  if (!revision.empty()) w += " at revision '" + revision + "'";
  if (!filename.empty()) w = "file '" + filename + "' of " + w;
  return w;
}

std::string login_hint(const HubConfig& cfg) {
  return "log in: set HF_TOKEN to a token from " + cfg.endpoint + "/settings/tokens, or save it in " +
         cfg.token_path + " (`huggingface-cli login` writes it there)";
}

uint64_t parse_u64(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) return UINT64_MAX;
  return std::stoull(s);
}

}  // namespace

[[noreturn]] void throw_http_error(const HttpResponse& r, const std::string& repo_id,
                                   const std::string& revision, const std::string& filename,
                                   const HubConfig& cfg) {
  std::string code = r.header("X-Error-Code");
  std::string server_msg = r.header("X-Error-Message");
  std::string status = "HTTP " + std::to_string(r.status);
  std::string tail = server_msg.empty() ? "" : " — the Hub says: " + server_msg;
  std::string repo_url = cfg.endpoint + "/" + repo_id;
  if (r.status == 401 || r.status == 403) {
    if (code == "GatedRepo")
      throw Error("repo '" + repo_id + "' is gated: access to " + what_of(repo_id, revision, filename) +
                      " was refused (" + status + ")" + tail,
                  cfg.token ? "the token in use has no access yet: accept the conditions at " + repo_url +
                                  " and wait for approval"
                            : "accept the conditions at " + repo_url + ", then " + login_hint(cfg));
    if (code == "RepoNotFound")
      throw Error("repo '" + repo_id + "' not found (" + status +
                      "): it does not exist, or it is private and " +
                      (cfg.token ? "the token in use does not grant access" : "no token was sent") + tail,
                  cfg.token ? "check the repo id (org/name) and the token's permissions" : login_hint(cfg));
    throw Error(
        "access to " + what_of(repo_id, revision, filename) + " denied (" + status + "): " +
            (cfg.token ? "the token in use was rejected or lacks access" : "authentication required") + tail,
        cfg.token ? "check the token (HF_TOKEN or " + cfg.token_path + "); " + login_hint(cfg)
                  : login_hint(cfg));
  }
  if (r.status == 404) {
    if (code == "RepoNotFound")
      throw Error("repo '" + repo_id + "' not found on " + cfg.endpoint + " (" + status + ")" + tail,
                  "check the repo id (org/name) and type; private repos also need a token");
    if (code == "RevisionNotFound")
      throw Error("revision '" + revision + "' not found in repo '" + repo_id + "' (" + status + ")" + tail,
                  "use an existing branch, tag or full 40-character commit hash");
    if (code == "EntryNotFound" || !filename.empty())
      throw Error(
          "file '" + filename + "' not found in repo '" + repo_id + "' at revision '" + revision + "' (" +
              status + ")" + tail,
          "check the file name (paths are case-sensitive); `ft.hub.list_files` shows what the repo has");
    throw Error(what_of(repo_id, revision, filename) + " not found (" + status + ")" + tail,
                "check the repo id and revision");
  }
  if (retryable_status(r.status))
    throw Error("the Hub at " + cfg.endpoint + " kept failing for " + what_of(repo_id, revision, filename) +
                    " (" + status + " after " + std::to_string(cfg.max_retries) + " retries)" + tail,
                "the server is overloaded or down; try again later");
  throw Error("unexpected answer from the Hub for " + what_of(repo_id, revision, filename) + ": " + status +
              tail);
}

HubClient::HubClient(HubConfig cfg) : cfg_(std::move(cfg)) {}
HubClient::~HubClient() = default;

TransferTotals HubClient::totals() const {
  std::lock_guard<std::mutex> lk(mu_);
  return totals_;
}

HubClient::CallTimer::~CallTimer() {
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::lock_guard<std::mutex> lk(c.mu_);
  c.totals_.seconds += s;
}

void HubClient::add_totals(const FetchStats& s, bool fetched) {
  std::lock_guard<std::mutex> lk(mu_);
  totals_.network_bytes += s.network_bytes;
  totals_.resumed_bytes += s.resumed_bytes;
  totals_.requests += s.requests;
  totals_.retries += s.retries;
  totals_.restarts += s.restarts;
  (fetched ? totals_.files_fetched : totals_.files_cached) += 1;
}

HeaderMap HubClient::headers_for(const Url& url) const {
  HeaderMap h;
  h.emplace("User-Agent", "fthost-hub/0.1");
  h.emplace("Accept-Encoding", "identity");
  // The token goes to the endpoint only (same scheme, host and port, as huggingface_hub compares
  // netlocs): never to a CDN or any other origin a redirect points at.
  if (cfg_.token && url.origin() == parse_url(cfg_.endpoint).origin())
    h.emplace("Authorization", "Bearer " + *cfg_.token);
  return h;
}

std::string HubClient::resolve_url(const std::string& repo_id, const std::string& repo_type,
                                   const std::string& revision, const std::string& filename) const {
  std::string prefix = repo_type == "model" ? "" : repo_type_plural(repo_type) + "/";
  return cfg_.endpoint + "/" + prefix + repo_id + "/resolve/" + quote(revision, "") + "/" +
         quote(filename, "/");
}

// A GET on the JSON API with retries on network errors, 429 and 5xx. Returns the last answer.
HttpResponse HubClient::api_get(const std::string& url_text) {
  HttpSession http(cfg_.etag_timeout_s, cfg_.etag_timeout_s, cfg_.ca_bundle);
  Url url = parse_url(url_text);
  int net_failures = 0;
  for (int failures = 0;;) {
    try {
      HeaderMap h = headers_for(url);
      h.emplace("Accept", "application/json");
      HttpResponse r = http.request("GET", url, h);
      if (!retryable_status(r.status) || failures >= cfg_.max_retries) return r;
      ++failures;
      if (!sleep_cancellable(retry_delay_s(cfg_, failures, &r))) check_interrupt();
    } catch (const HttpError&) {
      // Metadata calls retry a network failure once, then let the caller fall back to the cache.
      if (++net_failures > kMetadataNetworkRetries) throw;
      if (!sleep_cancellable(retry_delay_s(cfg_, net_failures, nullptr))) check_interrupt();
    }
  }
}

namespace {
// HEAD on the resolve URL, following relative redirects only (a renamed repo), retrying network
// errors, 429 and 5xx. `final_url` is the URL that gave the answer.
HttpResponse head_resolve(const HubConfig& cfg, const std::string& url_text, Url& final_url,
                          const std::function<HeaderMap(const Url&)>& headers_for) {
  HttpSession http(cfg.etag_timeout_s, cfg.etag_timeout_s, cfg.ca_bundle);
  int net_failures = 0;
  for (int failures = 0;;) {
    try {
      Url url = parse_url(url_text);
      HttpResponse r;
      for (int hops = 0; hops < 10; ++hops) {
        r = http.request("HEAD", url, headers_for(url));
        std::string loc = r.header("Location");
        if (r.status >= 300 && r.status < 400 && !loc.empty() && is_relative_location(loc)) {
          url = resolve_location(url, loc);
          continue;
        }
        break;
      }
      final_url = url;
      if (!retryable_status(r.status) || failures >= cfg.max_retries) return r;
      ++failures;
      if (!sleep_cancellable(retry_delay_s(cfg, failures, &r))) check_interrupt();
    } catch (const HttpError&) {
      if (++net_failures > kMetadataNetworkRetries) throw;
      if (!sleep_cancellable(retry_delay_s(cfg, net_failures, nullptr))) check_interrupt();
    }
  }
}

FileMetadata parse_metadata(const HttpResponse& r, const Url& url, const std::string& filename) {
  FileMetadata m;
  m.commit = r.header("X-Repo-Commit");
  m.etag = normalize_etag(r.has("X-Linked-Etag") ? r.header("X-Linked-Etag") : r.header("ETag"));
  bool redirect = r.status >= 300 && r.status < 400;
  m.location = r.has("Location") ? resolve_location(url, r.header("Location")).str() : url.str();
  std::string size =
      r.has("X-Linked-Size") ? r.header("X-Linked-Size") : (redirect ? "" : r.header("Content-Length"));
  m.size = parse_u64(size);
  std::string missing;
  if (m.commit.empty())
    missing = "X-Repo-Commit (the commit)";
  else if (m.etag.empty())
    missing = "ETag";
  else if (m.size == UINT64_MAX)
    missing = "X-Linked-Size/Content-Length (the size)";
  if (!missing.empty())
    throw Error("the Hub's answer for '" + filename + "' (" + url.origin() + ") lacks " + missing,
                "a proxy may strip headers; check HF_ENDPOINT");
  if (m.etag.find('/') != std::string::npos || m.etag.find("..") != std::string::npos)
    throw Error("the Hub's ETag for '" + filename + "' is not a valid blob name: '" + m.etag + "'");
  return m;
}
}  // namespace

FileMetadata HubClient::file_metadata(const std::string& repo_id, const std::string& filename,
                                      const std::string& revision, const std::string& repo_type) {
  Url final_url;
  HttpResponse r = head_resolve(cfg_, resolve_url(repo_id, repo_type, revision, filename), final_url,
                                [this](const Url& u) { return headers_for(u); });
  if (r.status >= 400) throw_http_error(r, repo_id, revision, filename, cfg_);
  return parse_metadata(r, final_url, filename);
}

std::string HubClient::file_from_cache(const RepoCache& cache, const std::string& filename,
                                       const std::string& revision, const std::string& why) {
  auto commit = cache.resolve_commit(revision);
  if (commit) {
    std::string ptr = cache.pointer_path(*commit, filename);
    if (fs::exists(ptr)) return ptr;
    if (fs::exists(cache.no_exist_path(*commit, filename)))
      throw Error("file '" + filename + "' does not exist in repo '" + cache.repo_id() + "' at revision '" +
                  revision + "' (recorded in the cache; " + why + ")");
  }
  throw Error(
      why + ", and file '" + filename + "' of '" + cache.repo_id() + "' at revision '" + revision +
          "' is not in the cache (" + cache.storage_dir() + ")",
      cfg_.offline
          ? "unset HF_HUB_OFFLINE and download it first, e.g. `fthost download " + cache.repo_id() + "`"
          : "check the network connection and HF_ENDPOINT (" + cfg_.endpoint + "), then run again");
}

std::string HubClient::file(const std::string& repo_id, const std::string& filename,
                            const std::string& revision, const std::string& repo_type) {
  CallTimer timer(*this);
  std::unique_ptr<Progress> progress;
  if (cfg_.progress) progress = std::make_unique<Progress>(true, ::isatty(2) == 1);
  std::string p = file_impl(repo_id, filename, revision, repo_type, nullptr, progress.get());
  if (progress) progress->close();
  return p;
}

std::string HubClient::file_impl(const std::string& repo_id, const std::string& filename,
                                 const std::string& revision, const std::string& repo_type,
                                 const RepoFile* known, Progress* progress) {
  validate_relative_filename(filename);
  RepoCache cache(cfg_.cache_dir, repo_id, repo_type);
  if (cfg_.offline) return file_from_cache(cache, filename, revision, "offline mode (HF_HUB_OFFLINE is set)");

  // A commit-hash revision whose pointer exists needs no network call.
  if (is_commit_hash(revision) && fs::exists(cache.pointer_path(revision, filename))) {
    add_totals({}, false);
    return cache.pointer_path(revision, filename);
  }
  // snapshot() knows the blob name from the tree listing: a blob already here only needs its link.
  if (known && is_commit_hash(revision) && fs::exists(cache.blob_path(known->etag()))) {
    FileLock lock(cache.lock_path(known->etag()));
    cache.link_snapshot(revision, filename, known->etag());
    add_totals({}, false);
    return cache.pointer_path(revision, filename);
  }

  Url final_url;
  HttpResponse r;
  try {
    r = head_resolve(cfg_, resolve_url(repo_id, repo_type, revision, filename), final_url,
                     [this](const Url& u) { return headers_for(u); });
  } catch (const HttpError& e) {
    return file_from_cache(cache, filename, revision, std::string("no network (") + e.what() + ")");
  }
  if (r.status == 404 && r.header("X-Error-Code") == "EntryNotFound" &&
      is_commit_hash(r.header("X-Repo-Commit"))) {
    std::string commit = r.header("X-Repo-Commit");
    cache.write_ref(revision, commit);
    cache.mark_no_exist(commit, filename);
  }
  if (r.status >= 400) {
    if (retryable_status(r.status) || r.status == 401 || r.status == 403) {
      auto commit = cache.resolve_commit(revision);
      if (commit && fs::exists(cache.pointer_path(*commit, filename))) {
        std::fprintf(stderr, "hub: HTTP %d for %s; using the cached copy\n", r.status, filename.c_str());
        return cache.pointer_path(*commit, filename);
      }
    }
    throw_http_error(r, repo_id, revision, filename, cfg_);
  }
  FileMetadata m = parse_metadata(r, final_url, filename);
  cache.ensure_cachedir_tag();
  cache.write_ref(revision, m.commit);
  std::string ptr = cache.pointer_path(m.commit, filename);
  if (fs::exists(ptr)) {
    add_totals({}, false);
    return ptr;
  }
  std::string blob = cache.blob_path(m.etag);
  FileLock lock(cache.lock_path(m.etag));
  FetchStats stats;
  bool fetched = false;
  if (!fs::exists(blob)) {
    FetchJob job;
    job.display_name = repo_id + "/" + filename;
    job.url = parse_url(m.location);
    job.auth_origin = parse_url(cfg_.endpoint).origin();
    job.token = cfg_.token;
    job.etag = m.etag;
    job.size = m.size;
    job.blob_path = blob;
    stats = fetch_blob(job, cfg_, progress);
    fetched = true;
  }
  cache.link_snapshot(m.commit, filename, m.etag);
  add_totals(stats, fetched);
  return ptr;
}

RepoInfo HubClient::repo_info(const std::string& repo_id, const std::string& revision,
                              const std::string& repo_type) {
  std::string url = cfg_.endpoint + "/api/" + repo_type_plural(repo_type) + "/" + repo_id + "/revision/" +
                    quote(revision, "");
  HttpResponse r = api_get(url);
  if (r.status != 200) throw_http_error(r, repo_id, revision, "", cfg_);
  RepoInfo info;
  try {
    auto j = nlohmann::json::parse(r.body);
    info.id = j.value("id", repo_id);
    info.sha = j.at("sha").get<std::string>();
    for (auto& s : j.value("siblings", nlohmann::json::array())) info.siblings.push_back(s.at("rfilename"));
    info.is_private = j.value("private", false);
    if (j.contains("gated") && j["gated"].is_string()) info.gated = j["gated"].get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    throw Error("the Hub's repo info for '" + repo_id +
                "' is not the expected JSON ({\"sha\": ..., \"siblings\": [...]}): " + e.what());
  }
  if (!is_commit_hash(info.sha))
    throw Error("the Hub's repo info for '" + repo_id + "' has sha '" + info.sha + "', not a 40-hex commit");
  return info;
}

std::vector<RepoFile> HubClient::list_files(const std::string& repo_id, const std::string& revision,
                                            const std::string& repo_type) {
  std::vector<RepoFile> out;
  std::string url = cfg_.endpoint + "/api/" + repo_type_plural(repo_type) + "/" + repo_id + "/tree/" +
                    quote(revision, "") + "?recursive=true&expand=false";
  for (int page = 0; !url.empty(); ++page) {
    HttpResponse r = api_get(url);
    if (r.status != 200) throw_http_error(r, repo_id, revision, "", cfg_);
    try {
      for (auto& e : nlohmann::json::parse(r.body)) {
        if (e.at("type").get<std::string>() != "file") continue;
        RepoFile f;
        f.path = e.at("path").get<std::string>();
        f.size = e.value("size", uint64_t{0});
        f.oid = e.value("oid", std::string());
        if (e.contains("lfs") && e["lfs"].is_object()) f.lfs = e["lfs"].at("oid").get<std::string>();
        out.push_back(std::move(f));
      }
    } catch (const nlohmann::json::exception& e) {
      throw Error("the Hub's file list for '" + repo_id + "' (page " + std::to_string(page + 1) +
                  ") is not the expected JSON array of {type, path, size, oid, lfs}: " + e.what());
    }
    // GitHub-style pagination: Link: <url>; rel="next"
    url.clear();
    std::string link = r.header("Link");
    auto rel = link.find("rel=\"next\"");
    if (rel != std::string::npos) {
      auto open = link.rfind('<', rel), close = link.rfind('>', rel);
      if (open != std::string::npos && close != std::string::npos && close > open) {
        url = link.substr(open + 1, close - open - 1);
        if (is_relative_location(url)) url = resolve_location(parse_url(cfg_.endpoint), url).str();
      }
    }
  }
  return out;
}

std::string HubClient::snapshot(const std::string& repo_id, const SnapshotOptions& opts) {
  CallTimer timer(*this);
  RepoCache cache(cfg_.cache_dir, repo_id, opts.repo_type);
  auto from_cache = [&](const std::string& why) {
    auto commit = cache.resolve_commit(opts.revision);
    if (commit && fs::exists(cache.snapshot_dir(*commit))) return cache.snapshot_dir(*commit);
    throw Error(why + ", and no snapshot of '" + repo_id + "' at revision '" + opts.revision +
                    "' is in the cache (" + cache.storage_dir() + ")",
                cfg_.offline
                    ? "unset HF_HUB_OFFLINE and download it first: `fthost download " + repo_id + "`"
                    : "check the network connection and HF_ENDPOINT (" + cfg_.endpoint + "), then run again");
  };
  if (cfg_.offline) return from_cache("offline mode (HF_HUB_OFFLINE is set)");

  std::string commit;
  std::vector<RepoFile> files;
  try {
    commit =
        is_commit_hash(opts.revision) ? opts.revision : repo_info(repo_id, opts.revision, opts.repo_type).sha;
    files = list_files(repo_id, commit, opts.repo_type);
  } catch (const HttpError& e) {
    return from_cache(std::string("no network (") + e.what() + ")");
  }
  std::vector<RepoFile> selected;
  for (auto& f : files)
    if (path_selected(f.path, opts.include, opts.exclude)) selected.push_back(f);
  cache.ensure_cachedir_tag();
  cache.write_ref(opts.revision, commit);
  fs::make_dirs(cache.snapshot_dir(commit));

  // Fail before the first byte when the blobs still missing cannot fit (file sizes from the listing;
  // fetch_blob checks each file again against X-Linked-Size).
  uint64_t needed = 0;
  size_t missing = 0;
  for (auto& f : selected) {
    std::string blob = cache.blob_path(f.etag());
    if (fs::exists(blob)) continue;
    ++missing;
    needed += f.size - std::min(f.size, partial_bytes_held(blob));
  }
  if (missing > 0) {
    std::string blobs_dir = cache.storage_dir() + "/blobs";
    fs::make_dirs(blobs_dir);
    require_free_space(
        blobs_dir, needed,
        std::to_string(missing) + (missing == 1 ? " file" : " files") + " of '" + repo_id + "'");
  }

  std::unique_ptr<Progress> progress;
  if (cfg_.progress) progress = std::make_unique<Progress>(true, ::isatty(2) == 1);
  std::atomic<size_t> next{0};
  std::atomic<bool> cancel{false};
  std::exception_ptr first_error;
  std::mutex err_mu;
  auto work = [&] {
    for (;;) {
      size_t i = next++;
      if (i >= selected.size() || cancel) return;
      try {
        file_impl(repo_id, selected[i].path, commit, opts.repo_type, &selected[i], progress.get());
      } catch (...) {
        std::lock_guard<std::mutex> lk(err_mu);
        if (!first_error) first_error = std::current_exception();
        cancel = true;
        return;
      }
    }
  };
  int n = std::max(1, std::min<int>(cfg_.file_workers, static_cast<int>(selected.size())));
  std::vector<std::thread> pool;
  for (int i = 1; i < n; ++i) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (progress) progress->close();
  if (first_error) std::rethrow_exception(first_error);
  return cache.snapshot_dir(commit);
}

}  // namespace ft::hub
