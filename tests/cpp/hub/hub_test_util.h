// Shared fixture for the Hub tests: a started FakeHub with the fixture repos, a fresh cache folder,
// and a HubConfig pointing at both with fast retries and no progress output.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "fake_hub.h"
#include "hub/config.h"

namespace hubtest {

inline std::string make_temp_dir() {
  std::string base = std::getenv("FTHOST_TEST_TMP") ? std::getenv("FTHOST_TEST_TMP") : "/tmp";
  std::filesystem::create_directories(base);
  std::string tmpl = base + "/fthost-hub-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
  return buf.data();
}

inline std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string link_target(const std::string& path) {
  std::error_code ec;
  return std::filesystem::read_symlink(path, ec).string();
}

inline std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

inline const fakehub::FakeFile& file_of(const fakehub::FakeHub& hub, const std::string& repo,
                                        const std::string& rev, const std::string& path) {
  const fakehub::FakeRepo* r = hub.repo(repo);
  std::string sha = r->refs.count(rev) ? r->refs.at(rev) : rev;
  for (auto& c : r->commits)
    if (c.sha == sha)
      for (auto& f : c.files)
        if (f.path == path) return f;
  throw std::runtime_error("fixture has no " + repo + "@" + rev + ":" + path);
}

inline std::string content_of(const fakehub::FakeFile& f) {
  std::string s(f.size(), '\0');
  f.read(0, s.size(), s.data());
  return s;
}

struct HubFixture {
  fakehub::FakeHub hub;
  std::string cache;
  ft::hub::HubConfig cfg;

  HubFixture() {
    fakehub::add_fixture_repos(hub);
    hub.set_tree_page_size(3);  // exercise Link pagination
    hub.start();
    cache = make_temp_dir() + "/hub";
    cfg.endpoint = hub.endpoint();
    cfg.cache_dir = cache;
    cfg.token_path = cache + "/../token";
    cfg.progress = false;
    cfg.backoff_base_s = 0.01;
    cfg.backoff_max_s = 0.05;
    cfg.etag_timeout_s = 5;
    cfg.download_timeout_s = 5;
    cfg.range_min_size = 1u << 20;  // weights/big.bin (3 MiB) goes by ranges
    cfg.range_part_size = 512u << 10;
    cfg.range_connections = 4;
  }
  ~HubFixture() {
    hub.stop();
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path(cache).parent_path(), ec);
  }
  std::string storage() const { return cache + "/models--acme--tiny"; }
  std::string main_sha() const { return hub.repo("acme/tiny")->refs.at("main"); }
};

// The message of the ft::Error `f` throws, or "<no error>".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ft::Error& e) {
    return e.what();
  }
  return "<no error>";
}
inline bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// No partial downloads, temp files or sidecars anywhere under blobs/.
inline bool blobs_clean(const std::string& storage) {
  for (auto& n : list_dir(storage + "/blobs"))
    if (n.find('.') != std::string::npos) return false;
  return true;
}

}  // namespace hubtest
