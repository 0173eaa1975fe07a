// The projection every transformer block uses: y = x W^T + b, plus a list of adapters whose outputs are
// added (the extension point for LoRA: an adapter registers as a submodule of the Linear, so its
// parameters appear under "<proj>.<adapter name>.*" in named_parameters()).
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "model/cpu_matmul.h"

namespace ft::model {

// y = x W^T + b. On CPU in f32, several rows go to oneDNN's matmul (cpu_matmul.h), and a single input row
// (decoding one token) takes a matrix-vector product: OpenBLAS before 0.3.27 (Debian 12 ships 0.3.21) runs
// a one-row gemm by first packing the whole weight matrix, several times slower than gemv streaming it once.
inline at::Tensor linear_forward(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
  if (x.numel() == w.size(1) && x.is_cpu() && x.scalar_type() == at::kFloat &&
      w.scalar_type() == at::kFloat) {
    at::Tensor y = at::mv(w, x.reshape({-1}));
    if (b.defined()) y = y + b;
    auto shape = x.sizes().vec();
    shape.back() = w.size(0);
    return y.view(shape);
  }
  if (x.is_cpu() && x.scalar_type() == at::kFloat && w.scalar_type() == at::kFloat &&
      (!b.defined() || b.scalar_type() == at::kFloat) && onednn_linear_enabled())
    return onednn_linear(x, w, b);
  return at::linear(x, w, b);
}

// Adds a delta to a Linear's output: forward(x) must return a tensor shaped like the base output.
class LinearAdapter : public torch::nn::Module {
 public:
  virtual at::Tensor forward(const at::Tensor& x) = 0;
  bool enabled = true;  // false: the adapter is skipped (the reference policy in GRPO/DPO)
};

struct LinearImpl : torch::nn::Module {
  LinearImpl(int64_t in_features, int64_t out_features, bool with_bias)
      : in_features(in_features), out_features(out_features) {
    weight = register_parameter("weight", torch::empty({out_features, in_features}));
    if (with_bias) bias = register_parameter("bias", torch::zeros({out_features}));
  }

  at::Tensor forward(const at::Tensor& x) {
    at::Tensor y = linear_forward(x, weight, bias);
    for (auto& a : adapters)
      if (a.second->enabled) y = y + a.second->forward(x);
    return y;
  }

  // Attaches an adapter under `name` (registered as a submodule, so it moves with .to() and its
  // parameters are listed and saved).
  void add_adapter(const std::string& name, std::shared_ptr<LinearAdapter> adapter) {
    register_module(name, adapter);
    adapters.emplace_back(name, std::move(adapter));
  }

  int64_t in_features, out_features;
  at::Tensor weight, bias;  // bias undefined when the projection has none
  std::vector<std::pair<std::string, std::shared_ptr<LinearAdapter>>> adapters;
};
TORCH_MODULE(Linear);

}  // namespace ft::model
