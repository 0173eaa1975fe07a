// `fthost --version`: fthost's, LuaJIT's and LibTorch's versions and whether CUDA and NCCL are usable.
#include <torch/torch.h>
#include <torch/version.h>

#include <sstream>

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
  return out.str();
}

}  // namespace ft::runtime
