// The optimizer interface trainers call, and AdamW behind it. An Optimizer owns the state of the
// parameters it was given (moments, step count); ZeRO stages and CPU offload implement the same
// interface with partitioned or host-resident state. FusedAdamW is a multithreaded one-pass CPU kernel
// (fp32 params); TorchAdamW wraps torch::optim::AdamW (any device; the GPU path).
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ft::train {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update with learning rate `lr` from the gradients in params' .grad (undefined grads: skipped).
  virtual void step(double lr) = 0;
  void zero_grad();
  // Checkpoint state: named tensors (copies on CPU) and the number of steps taken.
  virtual NamedTensors state() const = 0;
  virtual void load_state(const std::map<std::string, at::Tensor>& state) = 0;
  virtual std::string name() const = 0;
  int64_t steps() const { return step_; }

 protected:
  explicit Optimizer(NamedTensors params) : params_(std::move(params)) {}
  NamedTensors params_;
  int64_t step_ = 0;
};

class FusedAdamW : public Optimizer {
 public:
  FusedAdamW(NamedTensors params, const AdamWOptions& o);
  void step(double lr) override;
  NamedTensors state() const override;
  void load_state(const std::map<std::string, at::Tensor>& state) override;
  std::string name() const override { return "adamw_fused"; }

 private:
  AdamWOptions o_;
  std::vector<at::Tensor> m_, v_;
};

class TorchAdamW : public Optimizer {
 public:
  TorchAdamW(NamedTensors params, const AdamWOptions& o);
  void step(double lr) override;
  NamedTensors state() const override;
  void load_state(const std::map<std::string, at::Tensor>& state) override;
  std::string name() const override { return "adamw_torch"; }

 private:
  std::unique_ptr<torch::optim::AdamW> opt_;
};

// kind: "adamw" (fused on CPU fp32, LibTorch elsewhere), "adamw_fused", "adamw_torch".
std::unique_ptr<Optimizer> make_optimizer(const std::string& kind, NamedTensors params, const AdamWOptions& o);

// Scales grads so their global L2 norm is at most max_norm; returns the norm before clipping.
double clip_grad_norm(const NamedTensors& params, double max_norm);

}  // namespace ft::train
