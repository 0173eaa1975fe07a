// Two clients downloading the same snapshot at once (separate lock-file descriptions, so flock
// excludes them exactly as between processes): both succeed, and every blob is produced once.
#include <boost/test/unit_test.hpp>

#include <thread>

#include "hub/hashing.h"
#include "hub/hub.h"
#include "hub_test_util.h"

using namespace ft::hub;
using namespace hubtest;

BOOST_FIXTURE_TEST_SUITE(hub_concurrency, HubFixture)

BOOST_AUTO_TEST_CASE(two_clients_one_copy_of_each_blob) {
  hub.set_rate(4u << 20);  // slow enough that the two runs overlap
  std::string dir1, dir2, err;
  std::mutex mu;
  auto run = [&](std::string& out) {
    try {
      HubClient c(cfg);
      out = c.snapshot("acme/tiny");
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lk(mu);
      err += e.what();
    }
  };
  std::thread a(run, std::ref(dir1)), b(run, std::ref(dir2));
  a.join();
  b.join();
  BOOST_TEST(err.empty(), err);
  BOOST_TEST(dir1 == dir2);
  const auto* repo = hub.repo("acme/tiny");
  auto s = hub.stats();
  for (auto& f : repo->commits.back().files) {
    BOOST_TEST(slurp(dir1 + "/" + f.path) == content_of(f), f.path);
    BOOST_TEST(s.bytes_by_path[f.path] == f.size(), f.path + " fetched once");
  }
  BOOST_TEST(list_dir(storage() + "/blobs").size() == repo->commits.back().files.size());
  BOOST_TEST(blobs_clean(storage()));
}

BOOST_AUTO_TEST_SUITE_END()
