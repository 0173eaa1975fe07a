// Pure functions of the Hub client: fnmatch/filter semantics (cases from Python's fnmatch and
// huggingface_hub's filter_repo_objects), URL quoting and Location resolution, cache folder names,
// token cleaning, and the blob hashes against published test vectors.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <fstream>

#include "core/error.h"
#include "hub/cache.h"
#include "hub/config.h"
#include "hub/fnmatch.h"
#include "hub/hashing.h"
#include "hub/url.h"

using namespace ft::hub;

BOOST_AUTO_TEST_SUITE(hub_units)

BOOST_AUTO_TEST_CASE(fnmatchcase_semantics) {
  BOOST_TEST(fnmatch_case("model.safetensors", "*.safetensors"));
  BOOST_TEST(fnmatch_case("sub/dir/notes.txt", "*.txt"));  // '*' crosses '/'
  BOOST_TEST(fnmatch_case("sub/dir/notes.txt", "sub/*"));
  BOOST_TEST(!fnmatch_case("Model.bin", "model.bin"));  // case-sensitive
  BOOST_TEST(fnmatch_case("a1.bin", "a?.bin"));
  BOOST_TEST(fnmatch_case("a/.bin", "a?.bin"));  // '?' matches '/' too
  BOOST_TEST(fnmatch_case("model-00001-of-00002.safetensors", "model-0000[0-9]-of-*.safetensors"));
  BOOST_TEST(!fnmatch_case("model-0000x-of-2.safetensors", "model-0000[0-9]-of-*.safetensors"));
  BOOST_TEST(fnmatch_case("b.txt", "[!a].txt"));
  BOOST_TEST(!fnmatch_case("a.txt", "[!a].txt"));
  BOOST_TEST(fnmatch_case("].txt", "[]].txt"));  // ']' first in a set is literal
  BOOST_TEST(fnmatch_case("[x", "[x"));          // unclosed '[' is literal
  BOOST_TEST(fnmatch_case("", "*"));
  BOOST_TEST(!fnmatch_case("abc", "ab"));
}

BOOST_AUTO_TEST_CASE(filter_repo_objects_rules) {
  std::vector<std::string> none;
  BOOST_TEST(path_selected("anything", none, none));
  BOOST_TEST(path_selected("sub/dir/notes.txt", {"sub/"}, none));  // trailing '/' gets '*'
  BOOST_TEST(!path_selected("config.json", {"sub/"}, none));
  BOOST_TEST(path_selected("sub\\x.txt", {"sub/*"}, none));   // '\' normalised to '/'
  BOOST_TEST(!path_selected("model.bin", {"*"}, {"*.bin"}));  // exclude wins
  BOOST_TEST(path_selected("model.safetensors", {"*.json", "*.safetensors"}, {"*.bin"}));
  BOOST_TEST(!path_selected(".gitattributes", {"*.json"}, none));
}

BOOST_AUTO_TEST_CASE(url_quote_and_locations) {
  BOOST_TEST(quote("refs/pr/1", "") == "refs%2Fpr%2F1");
  BOOST_TEST(quote("a dir/ü.json", "/") == "a%20dir/%C3%BC.json");
  BOOST_TEST(quote("model-00001.safe_tensors~", "/") == "model-00001.safe_tensors~");
  Url u = parse_url("https://huggingface.co/org/x/resolve/main/a.json");
  BOOST_TEST(u.host == "huggingface.co");
  BOOST_TEST(u.port == 443);
  BOOST_TEST(u.target == "/org/x/resolve/main/a.json");
  BOOST_TEST(u.origin() == "https://huggingface.co");
  Url r = resolve_location(u, "/org/y/resolve/main/a.json");
  BOOST_TEST(r.str() == "https://huggingface.co/org/y/resolve/main/a.json");
  BOOST_TEST(is_relative_location("/org/y"));
  BOOST_TEST(!is_relative_location("https://cdn-lfs.hf.co/x?sig=1"));
  Url cdn = resolve_location(u, "https://cdn-lfs.hf.co:8443/repos/ab?X-Amz=1");
  BOOST_TEST(cdn.host == "cdn-lfs.hf.co");
  BOOST_TEST(cdn.port == 8443);
  BOOST_TEST(cdn.target == "/repos/ab?X-Amz=1");
  BOOST_TEST(parse_url("http://127.0.0.1:8080").target == "/");
  BOOST_CHECK_THROW(parse_url("ftp://x/y"), ft::Error);
  BOOST_CHECK_THROW(parse_url("huggingface.co/x"), ft::Error);
}

BOOST_AUTO_TEST_CASE(cache_names) {
  BOOST_TEST(repo_folder_name("Qwen/Qwen2.5-0.5B", "model") == "models--Qwen--Qwen2.5-0.5B");
  BOOST_TEST(repo_folder_name("squad", "dataset") == "datasets--squad");
  BOOST_CHECK_THROW(repo_folder_name("a/b", "bucket"), ft::Error);
  BOOST_TEST(is_commit_hash("0123456789abcdef0123456789abcdef01234567"));
  BOOST_TEST(!is_commit_hash("main"));
  BOOST_TEST(!is_commit_hash("0123456789ABCDEF0123456789abcdef01234567"));
  RepoCache c("/c", "org/name");
  BOOST_TEST(c.lock_path("abc") == "/c/.locks/models--org--name/abc.lock");
  BOOST_TEST(c.pointer_path("c0mmit", "a/b.txt") == "/c/models--org--name/snapshots/c0mmit/a/b.txt");
  BOOST_TEST(c.no_exist_path("c0mmit", "x.json") == "/c/models--org--name/.no_exist/c0mmit/x.json");
  BOOST_CHECK_THROW(validate_relative_filename("../evil"), ft::Error);
  BOOST_CHECK_THROW(validate_relative_filename("a/../../evil"), ft::Error);
  BOOST_CHECK_THROW(validate_relative_filename("/etc/passwd"), ft::Error);
  BOOST_CHECK_NO_THROW(validate_relative_filename("a/..b/c"));
}

BOOST_AUTO_TEST_CASE(token_cleaning_and_env) {
  BOOST_TEST(*clean_token("  hf_abc\r\n") == "hf_abc");
  BOOST_TEST(!clean_token(" \n ").has_value());
  BOOST_TEST(env_flag_true("yes"));
  BOOST_TEST(env_flag_true("1"));
  BOOST_TEST(!env_flag_true("0"));
  ::setenv("HF_ENDPOINT", "http://127.0.0.1:9/", 1);
  ::setenv("HF_HOME", "/tmp/fthost-hf-home", 1);
  ::unsetenv("HF_HUB_CACHE");
  ::unsetenv("HUGGINGFACE_HUB_CACHE");
  ::unsetenv("HF_TOKEN");
  ::unsetenv("HUGGING_FACE_HUB_TOKEN");
  ::unsetenv("HF_TOKEN_PATH");
  ::system("mkdir -p /tmp/fthost-hf-home");
  std::ofstream("/tmp/fthost-hf-home/token") << "hf_from_file\n";
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  HubConfig c = HubConfig::from_env();
  BOOST_TEST(c.endpoint == "http://127.0.0.1:9");
  BOOST_TEST(c.cache_dir == "/tmp/fthost-hf-home/hub");
  BOOST_TEST(c.token_path == "/tmp/fthost-hf-home/token");
  BOOST_TEST(c.token.value_or("") == "hf_from_file");
  BOOST_TEST(c.offline);
  ::setenv("HF_TOKEN", "hf_env", 1);
  ::setenv("HF_HUB_CACHE", "/tmp/elsewhere", 1);
  c = HubConfig::from_env();
  BOOST_TEST(c.token.value_or("") == "hf_env");
  BOOST_TEST(c.cache_dir == "/tmp/elsewhere");
  for (const char* v : {"HF_ENDPOINT", "HF_HOME", "HF_HUB_OFFLINE", "HF_TOKEN", "HF_HUB_CACHE"})
    ::unsetenv(v);
}

BOOST_AUTO_TEST_CASE(hash_vectors) {
  // FIPS 180-2 "abc" and git's empty blob / "hello\n" blob ids.
  BOOST_TEST(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_TEST(git_blob_sha1_hex("") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
  BOOST_TEST(git_blob_sha1_hex("hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a");
  BOOST_TEST((hash_kind_for_etag(std::string(64, 'a')) == BlobHashKind::sha256));
  BOOST_TEST((hash_kind_for_etag(std::string(40, 'a')) == BlobHashKind::git_sha1));
  BOOST_TEST((hash_kind_for_etag("xet-abc") == BlobHashKind::none));
}

BOOST_AUTO_TEST_SUITE_END()
