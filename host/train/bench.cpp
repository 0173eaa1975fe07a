// AdamW micro-benchmark (see bench.h).
#include "train/bench.h"

#include <algorithm>
#include <chrono>

#include "train/optimizer.h"

namespace ft::train {

namespace {

template <class F>
double best_of(int steps, F&& f) {
  double best = 1e30;
  for (int i = 0; i < steps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

AdamWBench bench_adamw(int64_t numel, int steps) {
  AdamWBench r;
  r.numel = numel;
  r.bytes_per_step = 7.0 * 4.0 * static_cast<double>(numel);
  at::Tensor a = torch::randn({numel}).set_requires_grad(true), b = a.detach().clone().set_requires_grad(true);
  a.mutable_grad() = torch::randn({numel});
  b.mutable_grad() = a.grad().clone();
  FusedAdamW fused({{"w", a}}, AdamWOptions{});
  torch::optim::AdamW ref({b}, torch::optim::AdamWOptions(1e-3));
  fused.step(1e-3);  // warm up: first-touch of the moment buffers
  ref.step();
  r.fused_s = best_of(steps, [&] { fused.step(1e-3); });
  r.torch_s = best_of(steps, [&] { ref.step(); });
  // The bandwidth bound: copy the same number of bytes (read 4 arrays, write 3 -> copy 3.5 arrays' worth).
  at::Tensor src = torch::randn({numel * 7 / 2}), dst = torch::empty_like(src);
  dst.copy_(src);
  r.copy_s = best_of(steps, [&] { dst.copy_(src); });
  return r;
}

}  // namespace ft::train
