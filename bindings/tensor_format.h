// The text form of a tensor, character for character what PyTorch's repr prints (torch/_tensor_str.py):
// "tensor([[1., 2.],\n        [3., 4.]])", fixed or scientific notation chosen from the values, right-aligned
// columns, 80-column wrapping, "..." summaries past 1000 elements, and the dtype/device suffixes.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace ft::lua {

// PyTorch's print options (torch.set_printoptions), with its defaults.
struct TensorPrintOptions {
  int precision = 4;         // digits after the point
  int64_t threshold = 1000;  // more elements than this are summarised with "..."
  int64_t edgeitems = 3;     // items shown at each end of a summarised dimension
  int linewidth = 80;        // characters per line before wrapping
};

// The options format_tensor uses when none are passed (process-wide, like torch.set_printoptions).
TensorPrintOptions& tensor_print_options();

// PyTorch's repr of `t` ("tensor(...)" with suffixes such as ", dtype=torch.float64", ", device='cuda:0'").
std::string format_tensor(const at::Tensor& t);
std::string format_tensor(const at::Tensor& t, const TensorPrintOptions& opts);

// "torch.float32", "torch.bfloat16"... as PyTorch names dtypes.
std::string torch_dtype_name(c10::ScalarType t);

}  // namespace ft::lua
