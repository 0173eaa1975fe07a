// The fused CPU AdamW update on raw fp32 arrays (no LibTorch types, usable by offload and benchmarks).
#pragma once

#include <cstdint>

namespace ft::train {

// Updates n elements in place: decoupled weight decay, moments, bias-corrected step (step >= 1).
void adamw_kernel(float* p, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, int64_t step);

}  // namespace ft::train
