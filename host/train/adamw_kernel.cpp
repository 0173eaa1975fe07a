// The fused AdamW kernel: one pass over (param, grad, m, v) per element, split across threads with
// at::parallel_for. Same arithmetic order as torch::optim::AdamW (decoupled decay, bias corrections, eps
// after the sqrt). Compiled without the LibTorch PCH so it can use -O3 -fno-math-errno (vector sqrt).
#include "train/adamw_kernel.h"

#include <ATen/Parallel.h>

#include <cmath>

namespace ft::train {

void adamw_kernel(float* __restrict p, const float* __restrict g, float* __restrict m, float* __restrict v,
                  int64_t n, float lr, float beta1, float beta2, float eps, float weight_decay, int64_t step) {
  const double bc1 = 1.0 - std::pow(static_cast<double>(beta1), static_cast<double>(step));
  const double bc2 = 1.0 - std::pow(static_cast<double>(beta2), static_cast<double>(step));
  const float step_size = static_cast<float>(lr / bc1);
  const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  const float decay = 1.0f - lr * weight_decay;
  const float one_b1 = 1.0f - beta1, one_b2 = 1.0f - beta2;
  at::parallel_for(0, n, 16384, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float gi = g[i];
      const float pi = p[i] * decay;
      const float mi = m[i] * beta1 + gi * one_b1;
      const float vi = v[i] * beta2 + gi * gi * one_b2;
      const float denom = std::sqrt(vi) / bc2_sqrt + eps;
      m[i] = mi;
      v[i] = vi;
      p[i] = pi - step_size * (mi / denom);
    }
  });
}

}  // namespace ft::train
