// A caching CPU allocator for LibTorch: freed tensor buffers of 256 KiB and more stay mapped and are
// handed to the next allocation that fits, instead of going back to the kernel.
//
// Why: a training step allocates and frees the same activation and gradient buffers every step. glibc
// serves large blocks with fresh mmaps (or trims its heap), so each step faults every page of them in
// again, and the kernel zeroes each page first. On the 2-core CI VM first-touch pages cost ~1.4 ms/MiB
// (2 GiB of fresh tmpfs pages: 2.9 s; rewriting the same pages: 0.33 s), which made page faults a large
// part of a small model's step: the 21.9M-parameter step of tests/bench/train_step.sh took 5.0e5 minor
// faults per 10 steps without the cache and 0.9e5 with it, and its median step time fell 5-10%.
// PyTorch's CUDA caching allocator exists for the same reason; its CPU allocator has none.
//
// Policy: a request takes the smallest cached block that is at least its size and at most 1/8 larger
// (so varying sequence lengths still reuse blocks, with bounded waste); otherwise a new page-aligned
// anonymous mapping (asking for transparent huge pages made no measurable difference). A freed block is
// cached unless that would push the cached total past the limit, in which case the oldest cached blocks are
// unmapped first. Blocks under 256 KiB go to LibTorch's default allocator (glibc's heap serves them well).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ft::memory {

struct CpuCacheStats {
  bool installed = false;
  size_t limit = 0;         // most bytes of freed blocks kept
  size_t cached_bytes = 0;  // freed blocks kept for reuse
  size_t cached_blocks = 0;
  size_t live_bytes = 0;   // blocks handed out and not yet freed (cached sizes only)
  uint64_t hits = 0;       // allocations served from the cache
  uint64_t misses = 0;     // allocations that mapped new memory
  uint64_t evictions = 0;  // cached blocks unmapped to stay under the limit
};

// The default limit: FTHOST_CPU_CACHE (bytes, or with a K/M/G suffix; 0 disables the cache) when set,
// else a quarter of physical memory. Throws ft::Error on a malformed value.
size_t default_cpu_cache_limit();

// Installs the caching allocator as LibTorch's CPU allocator (once; later calls only change the limit).
// limit 0: not installed (LibTorch's default allocator stays).
void install_cpu_cache(size_t limit);

CpuCacheStats cpu_cache_stats();

// Unmaps every cached block (live ones are untouched).
void cpu_cache_release();

}  // namespace ft::memory
