// Hub downloads against the loopback FakeHub: the cache layout byte for byte (blobs named by ETag,
// refs without newline, relative snapshot symlinks, .no_exist markers, lock files), revisions by
// branch/tag/commit, snapshot include/exclude with a paginated tree, offline and no-network answers
// from the cache, renamed repos, gated repos and tokens, and every 401/403/404 message.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>

#include <algorithm>

#include "core/error.h"
#include "hub/cache.h"
#include "hub/hashing.h"
#include "hub/hub.h"
#include "hub_test_util.h"

using namespace ft::hub;
using namespace hubtest;

BOOST_FIXTURE_TEST_SUITE(hub_download, HubFixture)

BOOST_AUTO_TEST_CASE(file_cache_layout_matches_huggingface_hub) {
  cfg.token = "hf_fthost_test_token";  // sent to the Hub, never to the CDN
  HubClient c(cfg);
  const auto& cfgf = file_of(hub, "acme/tiny", "main", "config.json");
  const auto& model = file_of(hub, "acme/tiny", "main", "model.safetensors");
  const auto& notes = file_of(hub, "acme/tiny", "main", "sub/dir/notes.txt");
  std::string sha = main_sha();

  std::string p1 = c.file("acme/tiny", "config.json");
  BOOST_TEST(p1 == storage() + "/snapshots/" + sha + "/config.json");
  BOOST_TEST(link_target(p1) == "../../blobs/" + cfgf.git_sha1);
  BOOST_TEST(slurp(p1) == cfgf.content);
  BOOST_TEST(slurp(storage() + "/refs/main") == sha);  // 40 hex, no newline

  std::string p2 = c.file("acme/tiny", "model.safetensors");
  BOOST_TEST(link_target(p2) == "../../blobs/" + model.sha256);
  BOOST_TEST(slurp(p2) == model.content);
  BOOST_TEST(sha256_hex(slurp(p2)) == model.sha256);

  std::string p3 = c.file("acme/tiny", "sub/dir/notes.txt");
  BOOST_TEST(link_target(p3) == "../../../../blobs/" + notes.git_sha1);
  BOOST_TEST(slurp(p3) == notes.content);

  std::string p4 = c.file("acme/tiny", "empty.txt");
  BOOST_TEST(slurp(p4).empty());
  BOOST_TEST(link_target(p4) == "../../blobs/e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");

  BOOST_TEST(std::filesystem::exists(cache + "/.locks/models--acme--tiny/" + model.sha256 + ".lock"));
  BOOST_TEST(std::filesystem::exists(cache + "/CACHEDIR.TAG"));
  BOOST_TEST(blobs_clean(storage()));
  auto blobs = list_dir(storage() + "/blobs");
  BOOST_TEST(blobs.size() == 4u);
  BOOST_TEST(hub.stats().cdn_auth_seen == 0);
  BOOST_TEST(hub.stats().cdn_gets == 1);
  // Blob permissions follow huggingface_hub: 0666 & ~umask.
  auto perms = std::filesystem::status(storage() + "/blobs/" + model.sha256).permissions();
  mode_t um = ::umask(0);
  ::umask(um);
  BOOST_TEST(static_cast<unsigned>(perms) == (0666u & ~um));
}

BOOST_AUTO_TEST_CASE(second_call_reuses_the_cache) {
  HubClient c(cfg);
  c.file("acme/tiny", "model.safetensors");
  uint64_t bytes = hub.stats().body_bytes;
  int heads = hub.stats().resolve_heads;
  std::string p = c.file("acme/tiny", "model.safetensors");
  BOOST_TEST(hub.stats().body_bytes == bytes);         // no second download
  BOOST_TEST(hub.stats().resolve_heads == heads + 1);  // a branch is re-checked with HEAD, as hf does
  // A commit-hash revision whose pointer exists needs no network call at all.
  c.file("acme/tiny", "model.safetensors", main_sha());
  BOOST_TEST(hub.stats().resolve_heads == heads + 1);
  BOOST_TEST(c.totals().files_fetched == 1u);
  BOOST_TEST(c.totals().files_cached == 2u);
}

BOOST_AUTO_TEST_CASE(revisions_branch_tag_commit) {
  HubClient c(cfg);
  const auto& v1 = file_of(hub, "acme/tiny", "v1.0", "config.json");
  std::string v1sha = hub.repo("acme/tiny")->refs.at("v1.0");
  std::string p = c.file("acme/tiny", "config.json", "v1.0");
  BOOST_TEST(p == storage() + "/snapshots/" + v1sha + "/config.json");
  BOOST_TEST(slurp(p) == v1.content);
  BOOST_TEST(slurp(storage() + "/refs/v1.0") == v1sha);
  std::string by_commit = c.file("acme/tiny", "model.safetensors", v1sha);
  BOOST_TEST(slurp(by_commit) == file_of(hub, "acme/tiny", "v1.0", "model.safetensors").content);
  BOOST_TEST(!std::filesystem::exists(storage() + "/refs/" + v1sha));  // a commit is not a ref
  std::string main_cfg = c.file("acme/tiny", "config.json", "main");
  BOOST_TEST(slurp(main_cfg) != slurp(p));
}

BOOST_AUTO_TEST_CASE(snapshot_with_include_exclude_and_pagination) {
  HubClient c(cfg);
  SnapshotOptions o;
  o.include = {"*.json"};
  std::string dir = c.snapshot("acme/tiny", o);
  BOOST_TEST(dir == storage() + "/snapshots/" + main_sha());
  BOOST_TEST((list_dir(dir) == std::vector<std::string>{"config.json", "tokenizer.json"}));
  BOOST_TEST(slurp(storage() + "/refs/main") == main_sha());

  o.include = {"sub/", "*.safetensors", "weights/*"};
  o.exclude = {"weights/*"};
  c.snapshot("acme/tiny", o);
  BOOST_TEST(std::filesystem::exists(dir + "/sub/dir/notes.txt"));
  BOOST_TEST(std::filesystem::exists(dir + "/model.safetensors"));
  BOOST_TEST(!std::filesystem::exists(dir + "/weights"));

  std::string full = c.snapshot("acme/tiny");
  const auto* repo = hub.repo("acme/tiny");
  for (auto& f : repo->commits.back().files) BOOST_TEST(slurp(full + "/" + f.path) == content_of(f), f.path);
  BOOST_TEST(blobs_clean(storage()));
  // 7 files + 3 directories at page size 3 -> 4 tree pages per listing.
  BOOST_TEST(c.list_files("acme/tiny").size() == repo->commits.back().files.size());
}

BOOST_AUTO_TEST_CASE(offline_mode_answers_from_cache_without_network) {
  {
    HubClient c(cfg);
    c.snapshot("acme/tiny", SnapshotOptions{"main", {"config.json", "model.safetensors"}, {}, "model"});
  }
  hub.reset_stats();
  HubConfig off = cfg;
  off.offline = true;
  HubClient c(off);
  std::string p = c.file("acme/tiny", "model.safetensors");
  BOOST_TEST(slurp(p) == file_of(hub, "acme/tiny", "main", "model.safetensors").content);
  BOOST_TEST(c.snapshot("acme/tiny") == storage() + "/snapshots/" + main_sha());
  std::string e = error_of([&] { c.file("acme/tiny", "tokenizer.json"); });
  BOOST_TEST(contains(e, "offline mode (HF_HUB_OFFLINE is set)"), e);
  BOOST_TEST(contains(e, "'tokenizer.json' of 'acme/tiny' at revision 'main' is not in the cache"), e);
  e = error_of([&] { c.snapshot("acme/other"); });
  BOOST_TEST(contains(e, "no snapshot of 'acme/other'"), e);
  auto s = hub.stats();
  BOOST_TEST(s.resolve_heads + s.resolve_gets + s.api_calls + s.cdn_gets == 0);
}

BOOST_AUTO_TEST_CASE(no_network_falls_back_to_cache_or_says_so) {
  {
    HubClient c(cfg);
    c.file("acme/tiny", "config.json");
  }
  hub.stop();
  HubConfig down = cfg;
  down.max_retries = 1;
  HubClient c(down);
  BOOST_TEST(slurp(c.file("acme/tiny", "config.json")) ==
             file_of(hub, "acme/tiny", "main", "config.json").content);
  std::string e = error_of([&] { c.file("acme/tiny", "README.md"); });
  BOOST_TEST(contains(e, "no network"), e);
  BOOST_TEST(contains(e, "is not in the cache"), e);
  BOOST_TEST(c.snapshot("acme/tiny") == storage() + "/snapshots/" + main_sha());
}

BOOST_AUTO_TEST_CASE(not_found_messages_say_which) {
  HubClient c(cfg);
  std::string e = error_of([&] { c.file("acme/nope", "config.json"); });
  BOOST_TEST(contains(e, "repo 'acme/nope' not found"), e);
  e = error_of([&] { c.file("acme/tiny", "config.json", "no-such-branch"); });
  BOOST_TEST(contains(e, "revision 'no-such-branch' not found in repo 'acme/tiny'"), e);
  e = error_of([&] { c.file("acme/tiny", "missing.txt"); });
  BOOST_TEST(contains(e, "file 'missing.txt' not found in repo 'acme/tiny' at revision 'main'"), e);
  BOOST_TEST(std::filesystem::exists(storage() + "/.no_exist/" + main_sha() + "/missing.txt"));
  BOOST_TEST(std::filesystem::file_size(storage() + "/.no_exist/" + main_sha() + "/missing.txt") == 0u);
  e = error_of([&] { c.snapshot("acme/nope"); });
  BOOST_TEST(contains(e, "repo 'acme/nope' not found"), e);
  e = error_of([&] { c.snapshot("acme/tiny", SnapshotOptions{"nope", {}, {}, "model"}); });
  BOOST_TEST(contains(e, "revision 'nope' not found"), e);
  // Offline, the negative cache answers precisely.
  HubConfig off = cfg;
  off.offline = true;
  e = error_of([&] { HubClient(off).file("acme/tiny", "missing.txt"); });
  BOOST_TEST(contains(e, "does not exist in repo 'acme/tiny'"), e);
  e = error_of([&] { c.file("acme/tiny", "../escape"); });
  BOOST_TEST(contains(e, "'..'"), e);
}

BOOST_AUTO_TEST_CASE(gated_repo_needs_a_valid_token_which_is_never_shown) {
  std::string e = error_of([&] { HubClient(cfg).file("acme/gated", "config.json"); });
  BOOST_TEST(contains(e, "repo 'acme/gated' is gated"), e);
  BOOST_TEST(contains(e, "HTTP 401"), e);
  BOOST_TEST(contains(e, "HF_TOKEN"), e);  // how to log in
  HubConfig bad = cfg;
  bad.token = "hf_wrong_secret_value";
  e = error_of([&] { HubClient(bad).file("acme/gated", "config.json"); });
  BOOST_TEST(contains(e, "HTTP 403"), e);
  BOOST_TEST(contains(e, "the token in use has no access"), e);
  BOOST_TEST(!contains(e, "hf_wrong_secret_value"), e);
  HubConfig good = cfg;
  good.token = "hf_fthost_test_token";
  HubClient c(good);
  std::string p = c.file("acme/gated", "model.safetensors");
  BOOST_TEST(slurp(p) == file_of(hub, "acme/gated", "main", "model.safetensors").content);
  BOOST_TEST(hub.stats().cdn_auth_seen == 0);  // Authorization dropped on the cross-host redirect
  std::string dir = c.snapshot("acme/gated");
  BOOST_TEST(list_dir(dir).size() == 2u);
}

BOOST_AUTO_TEST_CASE(renamed_repo_follows_relative_redirect) {
  HubClient c(cfg);
  std::string p = c.file("acme/old-tiny", "config.json");
  BOOST_TEST(slurp(p) == file_of(hub, "acme/tiny", "main", "config.json").content);
  BOOST_TEST(contains(p, "/models--acme--old-tiny/snapshots/" + main_sha() + "/"), p);
}

BOOST_AUTO_TEST_CASE(repo_info_list_files_and_cache_scan) {
  HubClient c(cfg);
  RepoInfo info = c.repo_info("acme/tiny", "v1.0");
  BOOST_TEST(info.sha == hub.repo("acme/tiny")->refs.at("v1.0"));
  BOOST_TEST(info.siblings.size() == 3u);
  auto files = c.list_files("acme/tiny");
  auto big =
      std::find_if(files.begin(), files.end(), [](const RepoFile& f) { return f.path == "weights/big.bin"; });
  BOOST_REQUIRE(big != files.end());
  BOOST_TEST(big->size == file_of(hub, "acme/tiny", "main", "weights/big.bin").size());
  BOOST_TEST(big->lfs.value_or("") == file_of(hub, "acme/tiny", "main", "weights/big.bin").sha256);

  c.snapshot("acme/tiny", SnapshotOptions{"v1.0", {}, {}, "model"});
  c.file("acme/tiny", "config.json");
  auto repos = scan_cache(cache);
  BOOST_REQUIRE(repos.size() == 1u);
  BOOST_TEST(repos[0].repo_id == "acme/tiny");
  BOOST_TEST(repos[0].repo_type == "model");
  uint64_t expect = 0;
  for (auto& f : hub.repo("acme/tiny")->commits.front().files) expect += f.size();
  expect += file_of(hub, "acme/tiny", "main", "config.json").size();
  BOOST_TEST(repos[0].size_on_disk == expect);
  BOOST_TEST(repos[0].nb_blobs == 4u);
  BOOST_REQUIRE(repos[0].revisions.size() == 2u);
  for (auto& r : repos[0].revisions) {
    if (r.commit == main_sha())
      BOOST_TEST((r.refs == std::vector<std::string>{"main"}));
    else
      BOOST_TEST((r.refs == std::vector<std::string>{"v1.0"}));
  }
}

BOOST_AUTO_TEST_SUITE_END()
