// The caching CPU allocator: reuse of freed blocks (best fit within 1/8), the size floor, the limit and
// its eviction, release, concurrent use, and FTHOST_CPU_CACHE parsing. The allocator is process-wide once
// installed, so each case sets the limit it needs and reads stats as differences.
#include <torch/torch.h>
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <thread>
#include <vector>

#include "core/error.h"
#include "memory/cpu_cache.h"

using namespace ft::memory;

namespace {

constexpr size_t MiB = 1024 * 1024;

at::Tensor bytes(size_t n) {
  return at::empty({static_cast<int64_t>(n)}, at::kByte);
}

void fresh(size_t limit) {
  install_cpu_cache(limit);
  cpu_cache_release();
}

}  // namespace

BOOST_AUTO_TEST_CASE(freed_block_is_reused_by_the_next_request_that_fits) {
  fresh(64 * MiB);
  const auto s0 = cpu_cache_stats();
  BOOST_TEST(s0.installed);
  void* first;
  {
    auto t = bytes(3 * MiB);
    first = t.data_ptr();
    t.fill_(7);
  }
  auto s1 = cpu_cache_stats();
  BOOST_TEST(s1.cached_bytes == 3 * MiB);
  BOOST_TEST(s1.misses == s0.misses + 1);
  auto again = bytes(3 * MiB - 100);  // rounds up to the same pages
  BOOST_TEST(again.data_ptr() == first);
  auto s2 = cpu_cache_stats();
  BOOST_TEST(s2.hits == s1.hits + 1);
  BOOST_TEST(s2.cached_bytes == 0u);
  BOOST_TEST(s2.live_bytes == 3 * MiB);
}

BOOST_AUTO_TEST_CASE(a_block_more_than_an_eighth_larger_is_not_used) {
  fresh(64 * MiB);
  { auto t = bytes(4 * MiB); }
  const auto s0 = cpu_cache_stats();
  auto small = bytes(3 * MiB);  // 4 MiB > 3 MiB * 9/8: a new mapping
  auto s1 = cpu_cache_stats();
  BOOST_TEST(s1.misses == s0.misses + 1);
  BOOST_TEST(s1.cached_bytes == 4 * MiB);
  auto fits = bytes(4 * MiB - 300 * 1024);  // within 1/8: takes the 4 MiB block
  auto s2 = cpu_cache_stats();
  BOOST_TEST(s2.hits == s1.hits + 1);
  BOOST_TEST(s2.cached_bytes == 0u);
}

BOOST_AUTO_TEST_CASE(small_allocations_bypass_the_cache) {
  fresh(64 * MiB);
  const auto s0 = cpu_cache_stats();
  for (int i = 0; i < 100; ++i) {
    auto t = at::ones({1000}, at::kFloat);
    BOOST_TEST(t.sum().item<float>() == 1000.0f);
  }
  const auto s1 = cpu_cache_stats();
  BOOST_TEST(s1.hits + s1.misses == s0.hits + s0.misses);
  BOOST_TEST(s1.cached_bytes == 0u);
}

BOOST_AUTO_TEST_CASE(limit_evicts_oldest_blocks_and_oversized_blocks_are_unmapped) {
  fresh(5 * MiB);
  const auto s0 = cpu_cache_stats();
  {
    auto a = bytes(2 * MiB), b = bytes(2 * MiB), c = bytes(2 * MiB);
  }  // freed a, b, c (in reverse order of declaration: c first): only two fit under 5 MiB
  auto s1 = cpu_cache_stats();
  BOOST_TEST(s1.cached_bytes == 4 * MiB);
  BOOST_TEST(s1.evictions == s0.evictions + 1);
  { auto big = bytes(8 * MiB); }  // larger than the limit: unmapped on free, cache untouched
  auto s2 = cpu_cache_stats();
  BOOST_TEST(s2.cached_bytes == 4 * MiB);
  BOOST_TEST(s2.live_bytes == s0.live_bytes);
  install_cpu_cache(2 * MiB);  // lowering the limit evicts at once
  BOOST_TEST(cpu_cache_stats().cached_bytes <= 2 * MiB);
  cpu_cache_release();
  BOOST_TEST(cpu_cache_stats().cached_bytes == 0u);
  BOOST_TEST(cpu_cache_stats().cached_blocks == 0u);
}

BOOST_AUTO_TEST_CASE(tensor_results_are_unchanged_through_reused_blocks) {
  fresh(256 * MiB);
  auto a = at::randn({512, 512}), b = at::randn({512, 512});
  auto want = at::matmul(a, b);
  for (int i = 0; i < 5; ++i) {
    auto tmp = at::randn({1024, 1024});  // churn: 4 MiB blocks freed and reused
    auto got = at::matmul(a, b);
    BOOST_TEST(at::equal(got, want));
  }
  BOOST_TEST(cpu_cache_stats().hits > 0u);
}

BOOST_AUTO_TEST_CASE(concurrent_allocation_and_free_keep_the_books_balanced) {
  fresh(64 * MiB);
  const auto s0 = cpu_cache_stats();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t] {
      for (int i = 0; i < 300; ++i) {
        auto x = bytes((1 + (i + t) % 5) * 300 * 1024);
        x.data_ptr<uint8_t>()[0] = static_cast<uint8_t>(i);
      }
    });
  for (auto& th : threads) th.join();
  const auto s1 = cpu_cache_stats();
  BOOST_TEST(s1.live_bytes == s0.live_bytes);
  BOOST_TEST(s1.hits + s1.misses == s0.hits + s0.misses + 1200);
  BOOST_TEST(s1.cached_bytes <= 64 * MiB);
}

BOOST_AUTO_TEST_CASE(FTHOST_CPU_CACHE_values) {
  ::setenv("FTHOST_CPU_CACHE", "512M", 1);
  BOOST_TEST(default_cpu_cache_limit() == 512 * MiB);
  ::setenv("FTHOST_CPU_CACHE", "4G", 1);
  BOOST_TEST(default_cpu_cache_limit() == size_t{4} << 30);
  ::setenv("FTHOST_CPU_CACHE", "1000", 1);
  BOOST_TEST(default_cpu_cache_limit() == 1000u);
  ::setenv("FTHOST_CPU_CACHE", "0", 1);
  BOOST_TEST(default_cpu_cache_limit() == 0u);
  for (const char* bad : {"lots", "12Q", "-1", "1.5GB"}) {
    ::setenv("FTHOST_CPU_CACHE", bad, 1);
    try {
      (void)default_cpu_cache_limit();
      BOOST_ERROR("no error for FTHOST_CPU_CACHE=" << bad);
    } catch (const ft::Error& e) {
      BOOST_TEST(std::string(e.what()).find("FTHOST_CPU_CACHE: expected a byte count") != std::string::npos);
      BOOST_TEST(std::string(e.what()).find(bad) != std::string::npos);
    }
  }
  ::unsetenv("FTHOST_CPU_CACHE");
  BOOST_TEST(default_cpu_cache_limit() > 0u);
}
