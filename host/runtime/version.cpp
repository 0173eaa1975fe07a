// `fthost --version`: fthost's, LuaJIT's and LibTorch's versions and whether CUDA and NCCL are usable.
#include <torch/torch.h>
#include <torch/version.h>

#include <dlfcn.h>

#include <cstdlib>
#include <sstream>

#include "memory/cpu_cache.h"
#include "model/cpu_matmul.h"
#include "runtime/vm.h"

#ifndef FT_VERSION
#define FT_VERSION "0.0.0"
#endif

namespace ft::runtime {

std::string version_report() {
  std::ostringstream out;
  out << "fthost " << FT_VERSION << "\n";
  out << LUAJIT_VERSION << "\n";
  out << "LibTorch " << TORCH_VERSION << "\n";
  bool built_cuda = FT_HAS_CUDA != 0;
  bool cuda = built_cuda && torch::cuda::is_available();
  out << "CUDA: ";
  if (!built_cuda)
    out << "no (CPU build)";
  else if (cuda)
    out << "yes (" << torch::cuda::device_count() << " device(s))";
  else
    out << "no (built with CUDA, no device found)";
  out << "\nNCCL: ";
#if defined(USE_C10D_NCCL)
  out << (cuda ? "yes" : "no (no CUDA device)");
#else
  out << "no (LibTorch built without NCCL)";
#endif
  out << "\n";
  // LibTorch's CPU matmuls go through whichever libblas.so.3 is installed; name OpenBLAS's kernels when
  // it is that one, and OpenMP's wait policy (see cpu_defaults.cpp).
  using NameFn = char* (*)();
  auto corename = reinterpret_cast<NameFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  auto config = reinterpret_cast<NameFn>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
  out << "BLAS: ";
  if (corename && config)
    out << config() << " (kernels: " << corename() << ")";
  else
    out << "not OpenBLAS (LibTorch's matmuls may be slow)";
  out << "\nCPU fp32 linear layers: " << ft::model::cpu_matmul_report();
  const size_t cache_limit = ft::memory::default_cpu_cache_limit();
  out << "\nCPU allocation cache: ";
  if (cache_limit > 0)
    out << "up to " << (cache_limit >> 20) << " MiB of freed tensor memory kept (FTHOST_CPU_CACHE)";
  else
    out << "off (FTHOST_CPU_CACHE=0)";
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  out << "\nOpenMP: " << torch::get_num_threads() << " threads, wait policy " << (wait ? wait : "default")
      << ", spin count " << (spin ? spin : "default") << "\n";
  return out.str();
}

}  // namespace ft::runtime
