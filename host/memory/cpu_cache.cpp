// The caching CPU allocator (see cpu_cache.h for why and the policy).
#include "memory/cpu_cache.h"

#include <c10/core/CPUAllocator.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/error.h"

namespace ft::memory {

namespace {

constexpr size_t kMinCached = 256 * 1024;  // smaller requests: LibTorch's default allocator
constexpr size_t kPage = 4096;

size_t round_up(size_t n, size_t to) {
  return (n + to - 1) / to * to;
}

class CachingCpuAllocator final : public c10::Allocator {
 public:
  explicit CachingCpuAllocator(c10::Allocator* fallback) : fallback_(fallback) {}

  // LibTorch 2.3 made Allocator::allocate non-const and added copy_data; both spellings are defined
  // so that whichever the headers declare virtual is the one overridden.
  c10::DataPtr allocate(size_t n) const { return const_cast<CachingCpuAllocator*>(this)->take(n); }
  c10::DataPtr allocate(size_t n) { return take(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const {
    if (count > 0) std::memcpy(dest, src, count);
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release_any; }

  void set_limit(size_t limit) {
    std::lock_guard<std::mutex> g(mu_);
    limit_ = limit;
    evict_until(limit_);
  }

  CpuCacheStats stats() {
    std::lock_guard<std::mutex> g(mu_);
    CpuCacheStats s;
    s.installed = true;
    s.limit = limit_;
    s.cached_bytes = cached_bytes_;
    s.cached_blocks = by_size_.size();
    s.live_bytes = live_bytes_;
    s.hits = hits_;
    s.misses = misses_;
    s.evictions = evictions_;
    return s;
  }

  void release_all() {
    std::lock_guard<std::mutex> g(mu_);
    evict_until(0);
  }

  static CachingCpuAllocator* instance;

 private:
  c10::DataPtr take(size_t n) {
    if (n < kMinCached) return fallback_->allocate(n);
    const size_t want = round_up(n, kPage);
    void* p = take_cached(want);
    if (!p) {
      p = map_block(want);
      if (!p) {
        // Out of address space or memory: give the cache back and try once more.
        release_all();
        p = map_block(want);
      }
      if (!p) {
        c10::profiledCPUMemoryReporter().OutOfMemory(n);
        throw ft::Error("out of CPU memory: could not allocate " + std::to_string(n) + " bytes",
                        "use a smaller batch or sequence length, LoRA, or gradient checkpointing");
      }
      std::lock_guard<std::mutex> g(mu_);
      add_live(p, want);
    }
    return {p, p, &release_any, c10::Device(c10::DeviceType::CPU)};
  }

  // The best-fitting cached block for `want` bytes, already counted as live; null (a miss) if none.
  void* take_cached(size_t want) {
    std::lock_guard<std::mutex> g(mu_);
    auto it = by_size_.lower_bound(want);
    if (it == by_size_.end() || it->first > want + want / 8) {
      ++misses_;
      return nullptr;
    }
    void* p = it->second.ptr;
    const size_t size = it->first;
    by_age_.erase(it->second.age);
    by_size_.erase(it);
    cached_bytes_ -= size;
    ++hits_;
    add_live(p, size);
    return p;
  }

  void add_live(void* p, size_t size) {  // holds mu_
    live_.emplace(p, size);
    live_bytes_ += size;
  }

  static void* map_block(size_t size) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    return p;
  }

  // The deleter of every DataPtr this allocator hands out (and its raw_deleter): a cached-size block
  // goes back to the cache; anything else came from the fallback allocator.
  static void release_any(void* p) {
    if (!p) return;
    CachingCpuAllocator* self = instance;
    if (!self->give_back(p)) self->fallback_->raw_deleter()(p);
  }

  bool give_back(void* p) {
    void* unmap = nullptr;
    size_t unmap_size = 0;
    {
      std::lock_guard<std::mutex> g(mu_);
      auto it = live_.find(p);
      if (it == live_.end()) return false;
      const size_t size = it->second;
      live_.erase(it);
      live_bytes_ -= size;
      if (size > limit_) {
        unmap = p;
        unmap_size = size;
      } else {
        evict_until(limit_ - size);
        const uint64_t age = next_age_++;
        auto sit = by_size_.emplace(size, Cached{p, age});
        by_age_.emplace(age, sit);
        cached_bytes_ += size;
      }
    }
    if (unmap) ::munmap(unmap, unmap_size);
    return true;
  }

  // Unmaps the oldest cached blocks until at most `keep` bytes stay cached. Holds mu_.
  void evict_until(size_t keep) {
    while (cached_bytes_ > keep && !by_age_.empty()) {
      auto oldest = by_age_.begin();
      auto sit = oldest->second;
      ::munmap(sit->second.ptr, sit->first);
      cached_bytes_ -= sit->first;
      by_size_.erase(sit);
      by_age_.erase(oldest);
      ++evictions_;
    }
  }

  struct Cached {
    void* ptr;
    uint64_t age;
  };
  using BySize = std::multimap<size_t, Cached>;

  c10::Allocator* fallback_;
  std::mutex mu_;
  BySize by_size_;                               // cached blocks by size (best fit)
  std::map<uint64_t, BySize::iterator> by_age_;  // the same blocks, oldest first (eviction order)
  std::unordered_map<void*, size_t> live_;       // handed-out blocks and their mapped sizes
  size_t limit_ = 0, cached_bytes_ = 0, live_bytes_ = 0;
  uint64_t next_age_ = 0, hits_ = 0, misses_ = 0, evictions_ = 0;
};

CachingCpuAllocator* CachingCpuAllocator::instance = nullptr;
std::mutex g_install_mu;

}  // namespace

size_t default_cpu_cache_limit() {
  const char* v = std::getenv("FTHOST_CPU_CACHE");
  if (v && *v) {
    const std::string s = v;
    char* end = nullptr;
    const double x = std::strtod(s.c_str(), &end);
    double mult = 1;
    const std::string unit = end ? std::string(end) : std::string();
    if (unit == "K" || unit == "k")
      mult = 1024.0;
    else if (unit == "M" || unit == "m")
      mult = 1024.0 * 1024;
    else if (unit == "G" || unit == "g")
      mult = 1024.0 * 1024 * 1024;
    else if (!unit.empty())
      mult = -1;
    if (end == s.c_str() || mult < 0 || !(x >= 0))
      throw ft::Error("FTHOST_CPU_CACHE: expected a byte count such as 0, 512M or 4G, found '" + s + "'",
                      "0 turns the CPU allocation cache off; unset it for the default (a quarter of RAM)");
    return static_cast<size_t>(x * mult);
  }
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return size_t{1} << 30;
  return static_cast<size_t>(pages) * static_cast<size_t>(page) / 4;
}

void install_cpu_cache(size_t limit) {
  std::lock_guard<std::mutex> g(g_install_mu);
  if (CachingCpuAllocator::instance) {
    CachingCpuAllocator::instance->set_limit(limit);
    return;
  }
  if (limit == 0) return;
  // Never deleted: tensors freed during static destruction still reach it.
  auto* a = new CachingCpuAllocator(c10::GetDefaultCPUAllocator());
  CachingCpuAllocator::instance = a;
  a->set_limit(limit);
  c10::SetCPUAllocator(a, /*priority=*/1);
}

CpuCacheStats cpu_cache_stats() {
  std::lock_guard<std::mutex> g(g_install_mu);
  return CachingCpuAllocator::instance ? CachingCpuAllocator::instance->stats() : CpuCacheStats{};
}

void cpu_cache_release() {
  std::lock_guard<std::mutex> g(g_install_mu);
  if (CachingCpuAllocator::instance) CachingCpuAllocator::instance->release_all();
}

}  // namespace ft::memory
