// Micro-benchmarks the training benchmarks script reports (tests/bench/train.sh): fused CPU AdamW vs
// torch::optim::AdamW vs a plain copy of the same bytes (the memory-bandwidth bound).
#pragma once

#include <cstdint>

namespace ft::train {

struct AdamWBench {
  int64_t numel = 0;
  double fused_s = 0, torch_s = 0, copy_s = 0;  // seconds per step (best of the runs)
  double bytes_per_step = 0;                   // bytes the fused step must move (p, g, m, v read; p, m, v written)
};

AdamWBench bench_adamw(int64_t numel, int steps);

}  // namespace ft::train
