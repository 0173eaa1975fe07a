// The projection every transformer block uses: y = x W^T + b, plus a list of adapters whose outputs are
// added (the extension point for LoRA: an adapter registers as a submodule of the Linear, so its
// parameters appear under "<proj>.<adapter name>.*" in named_parameters()).
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace ft::model {

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
    at::Tensor y = at::linear(x, weight, bias);
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
