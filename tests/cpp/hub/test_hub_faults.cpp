// Fault injection: every fault ends in a byte-exact file (sha256 equal) or a clear error, and never in
// a corrupt file under snapshots/. Dropped connections (several per file, single stream and parallel
// ranges), 5xx/429 bursts with Retry-After, slow and stalled bodies, corrupted and truncated bodies,
// servers that ignore Range, and resuming partial files left by a killed run.
#include <boost/test/unit_test.hpp>

#include <chrono>

#include "core/error.h"
#include "hub/hashing.h"
#include "hub/hub.h"
#include "hub_test_util.h"

using namespace ft::hub;
using namespace hubtest;

namespace {
double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
}  // namespace

BOOST_FIXTURE_TEST_SUITE(hub_faults, HubFixture)

BOOST_AUTO_TEST_CASE(dropped_connections_resume_with_range) {
  const auto& model = file_of(hub, "acme/tiny", "main", "model.safetensors");  // LFS, via the CDN
  const auto& notes = file_of(hub, "acme/tiny", "main", "sub/dir/notes.txt");  // regular, via resolve
  fakehub::Fault f;
  f.path = "model.safetensors";
  f.drop_times = 3;
  f.drop_after = 40000;
  hub.add_fault(f);
  f.path = "sub/dir/notes.txt";
  f.drop_times = 4;
  f.drop_after = 9000;
  hub.add_fault(f);
  HubClient c(cfg);
  BOOST_TEST(sha256_hex(slurp(c.file("acme/tiny", "model.safetensors"))) == model.sha256);
  BOOST_TEST(slurp(c.file("acme/tiny", "sub/dir/notes.txt")) == notes.content);
  auto s = hub.stats();
  BOOST_TEST(s.faults_fired == 7);
  BOOST_TEST(s.range_gets == 7);  // each drop resumed with a Range request
  // Resumed, not restarted: the server sent each byte once, plus nothing.
  BOOST_TEST(s.bytes_by_path["model.safetensors"] == model.size());
  BOOST_TEST(s.bytes_by_path["sub/dir/notes.txt"] == notes.size());
  BOOST_TEST(c.totals().retries == 7);
  BOOST_TEST(blobs_clean(storage()));
}

BOOST_AUTO_TEST_CASE(parallel_ranges_with_drops_and_ignored_range) {
  const auto& big = file_of(hub, "acme/tiny", "main", "weights/big.bin");
  fakehub::Fault f;
  f.path = "weights/big.bin";
  f.drop_times = 5;
  f.drop_after = 100000;
  hub.add_fault(f);
  HubClient c(cfg);
  std::string p = c.file("acme/tiny", "weights/big.bin");
  BOOST_TEST(sha256_hex(slurp(p)) == big.sha256);
  BOOST_TEST(hub.stats().range_gets >= 7 + 5);  // 7 parts of 512 KiB, plus a resume per drop
  BOOST_TEST(hub.stats().bytes_by_path["weights/big.bin"] == big.size());

  // A server that answers 200 to a Range request: one worker restarts from byte 0 and takes it all.
  HubFixture other;
  fakehub::Fault g;
  g.path = "weights/big.bin";
  g.ignore_range_times = 100;
  other.hub.add_fault(g);
  HubClient c2(other.cfg);
  BOOST_TEST(sha256_hex(slurp(c2.file("acme/tiny", "weights/big.bin"))) == big.sha256);
  BOOST_TEST(c2.totals().restarts >= 1);
  BOOST_TEST(blobs_clean(other.storage()));
}

BOOST_AUTO_TEST_CASE(error_bursts_are_retried_and_retry_after_is_honoured) {
  fakehub::Fault f;
  f.path = "config.json";
  f.status_times = 3;
  f.status = 503;
  f.retry_after = 0;
  hub.add_fault(f);
  f.path = "model.safetensors";
  f.status_times = 2;
  f.status = 500;
  f.retry_after = -1;
  hub.add_fault(f);
  HubClient c(cfg);
  BOOST_TEST(slurp(c.file("acme/tiny", "config.json")) ==
             file_of(hub, "acme/tiny", "main", "config.json").content);
  BOOST_TEST(sha256_hex(slurp(c.file("acme/tiny", "model.safetensors"))) ==
             file_of(hub, "acme/tiny", "main", "model.safetensors").sha256);
  BOOST_TEST(hub.stats().faults_fired == 5);

  fakehub::Fault r;
  r.path = "README.md";
  r.status_times = 1;
  r.status = 429;
  r.retry_after = 1;
  hub.add_fault(r);
  auto t0 = std::chrono::steady_clock::now();
  c.file("acme/tiny", "README.md");
  BOOST_TEST(seconds_since(t0) >= 0.95);  // waited as told, not the 10 ms backoff
}

BOOST_AUTO_TEST_CASE(endless_errors_give_a_clear_error_and_no_file) {
  fakehub::Fault f;
  f.path = "model.safetensors";
  f.status_times = 1000;
  f.status = 500;
  hub.add_fault(f);
  HubClient c(cfg);
  std::string e = error_of([&] { c.file("acme/tiny", "model.safetensors"); });
  BOOST_TEST(contains(e, "kept failing"), e);
  BOOST_TEST(contains(e, "HTTP 500"), e);
  BOOST_TEST(!std::filesystem::exists(storage() + "/snapshots/" + main_sha() + "/model.safetensors"));
}

BOOST_AUTO_TEST_CASE(slow_and_stalled_bodies) {
  const auto& model = file_of(hub, "acme/tiny", "main", "model.safetensors");
  hub.set_rate(1u << 20);  // 1 MiB/s per connection: 300 KiB in ~0.3 s
  HubClient c(cfg);
  auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(sha256_hex(slurp(c.file("acme/tiny", "model.safetensors"))) == model.sha256);
  BOOST_TEST(seconds_since(t0) >= 0.2);
  hub.set_rate(0);

  fakehub::Fault f;
  f.path = "sub/dir/notes.txt";
  f.stall_times = 1;
  f.drop_after = 5000;
  f.stall_s = 2;
  hub.add_fault(f);
  HubConfig quick = cfg;
  quick.download_timeout_s = 0.5;  // the stall trips the read timeout; the retry resumes
  HubClient c2(quick);
  BOOST_TEST(slurp(c2.file("acme/tiny", "sub/dir/notes.txt")) ==
             file_of(hub, "acme/tiny", "main", "sub/dir/notes.txt").content);
  BOOST_TEST(c2.totals().retries >= 1);
}

BOOST_AUTO_TEST_CASE(corrupted_bytes_fail_verification_and_leave_nothing) {
  const auto& model = file_of(hub, "acme/tiny", "main", "model.safetensors");
  fakehub::Fault f;
  f.path = "model.safetensors";
  f.corrupt_times = 1;
  f.corrupt_offset = 123456;
  hub.add_fault(f);
  HubClient c(cfg);
  std::string e = error_of([&] { c.file("acme/tiny", "model.safetensors"); });
  BOOST_TEST(contains(e, "sha256 mismatch for 'acme/tiny/model.safetensors': expected " + model.sha256), e);
  BOOST_TEST(contains(e, "was deleted"), e);
  BOOST_TEST(!std::filesystem::exists(storage() + "/snapshots/" + main_sha() + "/model.safetensors"));
  BOOST_TEST(!std::filesystem::exists(storage() + "/blobs/" + model.sha256));
  BOOST_TEST(blobs_clean(storage()));
  // The fault was one-off: a rerun succeeds.
  BOOST_TEST(sha256_hex(slurp(c.file("acme/tiny", "model.safetensors"))) == model.sha256);

  // Regular files are checked with git's blob sha1.
  f.path = "config.json";
  f.corrupt_offset = 3;
  hub.add_fault(f);
  e = error_of([&] { c.file("acme/tiny", "config.json"); });
  BOOST_TEST(contains(e, "git-sha1 mismatch"), e);
  BOOST_TEST(!std::filesystem::exists(storage() + "/snapshots/" + main_sha() + "/config.json"));
}

BOOST_AUTO_TEST_CASE(truncated_bodies) {
  const auto& model = file_of(hub, "acme/tiny", "main", "model.safetensors");
  fakehub::Fault f;
  f.path = "model.safetensors";
  f.truncate_times = 1;
  f.truncate_by = 1000;
  hub.add_fault(f);
  HubClient c(cfg);
  BOOST_TEST(sha256_hex(slurp(c.file("acme/tiny", "model.safetensors"))) == model.sha256);
  BOOST_TEST(c.totals().retries == 1);

  // A server that always cuts the last byte: a clear error, no file.
  f.path = "README.md";
  f.truncate_times = 1000;
  f.truncate_by = 1;
  hub.add_fault(f);
  std::string e = error_of([&] { c.file("acme/tiny", "README.md"); });
  BOOST_TEST(contains(e, "README.md"), e);
  BOOST_TEST(!std::filesystem::exists(storage() + "/snapshots/" + main_sha() + "/README.md"));
}

BOOST_AUTO_TEST_CASE(resumes_partial_files_left_by_a_killed_run) {
  const auto& model = file_of(hub, "acme/tiny", "main", "model.safetensors");
  const auto& big = file_of(hub, "acme/tiny", "main", "weights/big.bin");
  std::string content = content_of(model);
  std::filesystem::create_directories(storage() + "/blobs");
  // huggingface_hub's classic shared partial: a plain prefix.
  {
    std::ofstream(storage() + "/blobs/" + model.sha256 + ".incomplete", std::ios::binary)
        << content.substr(0, 100000);
  }
  // fthost's own partial from a killed ranged run: holes, described by the sidecar.
  std::string big_content = content_of(big);
  std::string partial = storage() + "/blobs/" + big.sha256 + ".0badf00d.incomplete";
  {
    std::string holey(big_content.size(), '\0');
    std::copy(big_content.begin(), big_content.begin() + 524288, holey.begin());
    std::copy(big_content.begin() + 1048576, big_content.begin() + 2097152, holey.begin() + 1048576);
    std::ofstream(partial, std::ios::binary) << holey;
    std::ofstream(partial + ".ranges") << "{\"etag\":\"" << big.sha256 << "\",\"size\":" << big.size()
                                       << ",\"done\":[[0,524288],[1048576,2097152]]}";
    std::ofstream(partial + ".ranges.tmp") << "{\"etag\":";  // killed mid-save
  }
  HubClient c(cfg);
  BOOST_TEST(sha256_hex(slurp(c.file("acme/tiny", "model.safetensors"))) == model.sha256);
  BOOST_TEST(sha256_hex(slurp(c.file("acme/tiny", "weights/big.bin"))) == big.sha256);
  auto s = hub.stats();
  BOOST_TEST(s.bytes_by_path["model.safetensors"] == model.size() - 100000);
  BOOST_TEST(s.bytes_by_path["weights/big.bin"] == big.size() - 524288 - 1048576);
  BOOST_TEST(c.totals().resumed_bytes == 100000u + 524288u + 1048576u);
  BOOST_TEST(blobs_clean(storage()));

  // A partial holding wrong bytes is caught by the hash, deleted, and the next run starts clean.
  HubFixture other;
  std::filesystem::create_directories(other.storage() + "/blobs");
  std::string wrong = content.substr(0, 50000);
  wrong[10] ^= 1;
  { std::ofstream(other.storage() + "/blobs/" + model.sha256 + ".incomplete", std::ios::binary) << wrong; }
  HubClient c2(other.cfg);
  std::string e = error_of([&] { c2.file("acme/tiny", "model.safetensors"); });
  BOOST_TEST(contains(e, "sha256 mismatch"), e);
  BOOST_TEST(blobs_clean(other.storage()));
  BOOST_TEST(sha256_hex(slurp(c2.file("acme/tiny", "model.safetensors"))) == model.sha256);
}

BOOST_AUTO_TEST_SUITE_END()
