// fp32 CPU linear layers through oneDNN's matmul, forward and backward.
//
// LibTorch sends a CPU fp32 linear to the BLAS behind libblas.so.3. oneDNN (which LibTorch itself links
// and Debian ships as libdnnl) picks its kernels from the CPU's own ISA (AVX-512 where present), whatever
// OPENBLAS_CORETYPE pins OpenBLAS to. On the CI machine (AMD EPYC with AVX-512, OPENBLAS_CORETYPE=Haswell
// in its environment), 2 threads, 1024x512 by 512x1408: oneDNN ~400 GFLOP/s, OpenBLAS's Haswell kernels
// ~205, its own choice there (Cooperlake, AVX-512) 342-376. fthost's Linear goes through here when:
//   - fthost was built with oneDNN (FT_HAS_ONEDNN; the CPU build is, see CMakeLists.txt),
//   - FTHOST_CPU_MATMUL is not "blas" (the switch for comparisons and for ruling it out),
//   - the input and weight are fp32 CPU tensors and the input has more than one row.
// Results equal at::linear's up to float rounding (summation order differs); the gradients of the input,
// weight and bias are computed only for those that require them (a frozen base weight under LoRA costs
// no weight-gradient matmul).
#pragma once

#include <torch/torch.h>

#include <string>

namespace ft::model {

// "oneDNN 2.6.3 (avx512_core_bf16)" style description for `fthost -v`, or why LibTorch's BLAS is used.
std::string cpu_matmul_report();

// Whether onednn_linear may be used at all (built with oneDNN, FTHOST_CPU_MATMUL not "blas"). Read once.
bool onednn_linear_enabled();

// y = x W^T + b with autograd. x [..., K] fp32 CPU, w [N, K] fp32 CPU, b [N] or undefined.
at::Tensor onednn_linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b);

}  // namespace ft::model
