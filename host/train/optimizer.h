// The optimizer interface trainers call, and the optimizers behind it. An Optimizer owns the state of the
// parameters it was given (moments, step count); ZeRO stages and CPU offload implement the same
// interface with partitioned or host-resident state. FusedAdamW is a multithreaded one-pass CPU kernel
// (fp32 params); ForeachAdamW updates all parameters with LibTorch's multi-tensor ops, and on CUDA with
// LibTorch >= 2.1 with its fused AdamW kernel (the GPU path, what torch.optim.AdamW(fused=True) runs);
// TorchAdamW wraps torch::optim::AdamW (any device, one parameter at a time); Adafactor follows
// transformers' Adafactor, Sgd torch.optim.SGD (both any device, state in fp32).
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ft::train {

struct AdamWOptions {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

// transformers.optimization.Adafactor's arguments and defaults (the class's, not the Trainer's: the Trainer
// passes relative_step = false and scale_parameter = false with its own lr, and so does ft.sft).
struct AdafactorOptions {
  double eps1 = 1e-30;  // added to the squared gradient
  double eps2 = 1e-3;   // floor of the parameter scale (scale_parameter)
  double clip_threshold = 1.0;
  double decay_rate = -0.8;     // beta2 at step t is 1 - t^decay_rate
  std::optional<double> beta1;  // unset: no first moment
  double weight_decay = 0.0;
  bool scale_parameter = true;  // lr times max(eps2, RMS(param))
  bool relative_step = true;    // lr = min(1e-2, 1/sqrt(t)) (the lr passed to step() is ignored)
  bool warmup_init = false;     // relative_step's lr = min(1e-6 t, 1/sqrt(t))
};

// torch.optim.SGD's arguments (lr comes with each step).
struct SgdOptions {
  double momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
  bool nesterov = false;
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

// AdamW's state as FusedAdamW and ForeachAdamW keep it (one step count for all parameters) and save it:
// "<param>.exp_avg", "<param>.exp_avg_sq", "step" -- so a checkpoint resumes under either.
class AdamWState : public Optimizer {
 public:
  NamedTensors state() const override;
  void load_state(const std::map<std::string, at::Tensor>& state) override;

 protected:
  AdamWState(NamedTensors params, const AdamWOptions& o);
  AdamWOptions o_;
  std::vector<at::Tensor> m_, v_;
};

class FusedAdamW : public AdamWState {
 public:
  FusedAdamW(NamedTensors params, const AdamWOptions& o);  // contiguous fp32 CPU parameters only
  void step(double lr) override;
  std::string name() const override { return "adamw_fused"; }
};

class ForeachAdamW : public AdamWState {
 public:
  ForeachAdamW(NamedTensors params, const AdamWOptions& o);
  void step(double lr) override;
  std::string name() const override { return "adamw_foreach"; }
  // Whether the last step ran LibTorch's fused kernel (CUDA, LibTorch >= 2.1) instead of foreach ops.
  bool used_fused_kernel() const { return fused_; }

 private:
  bool fused_ = false;
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

class Adafactor : public Optimizer {
 public:
  Adafactor(NamedTensors params, const AdafactorOptions& o);  // throws on contradictory options
  void step(double lr) override;
  NamedTensors state() const override;
  void load_state(const std::map<std::string, at::Tensor>& state) override;
  std::string name() const override { return "adafactor"; }
  // The step size of the last update of the first parameter (relative_step / scale_parameter make it
  // differ from the lr passed in); 0 before the first step.
  double last_lr() const { return last_lr_; }

 private:
  struct Slot {
    int64_t step = 0;  // updates this parameter received (parameters without a grad are skipped)
    at::Tensor exp_avg, exp_avg_sq, row, col;  // row/col: factored second moment of >= 2-D parameters
  };
  AdafactorOptions o_;
  std::vector<Slot> slots_;
  double last_lr_ = 0;
};

class Sgd : public Optimizer {
 public:
  Sgd(NamedTensors params, const SgdOptions& o);  // throws on contradictory options
  void step(double lr) override;
  NamedTensors state() const override;
  void load_state(const std::map<std::string, at::Tensor>& state) override;
  std::string name() const override { return "sgd"; }

 private:
  SgdOptions o_;
  std::vector<at::Tensor> momentum_;  // undefined until a parameter's first update (as torch)
};

// kind: "adamw" (FusedAdamW on CPU fp32, ForeachAdamW elsewhere), "adamw_fused", "adamw_foreach",
// "adamw_torch", "adafactor", "sgd".
std::unique_ptr<Optimizer> make_optimizer(const std::string& kind, NamedTensors params, const AdamWOptions& o,
                                          const AdafactorOptions& adafactor = {}, const SgdOptions& sgd = {});

// Scales grads so their global L2 norm is at most max_norm; returns the norm before clipping.
double clip_grad_norm(const NamedTensors& params, double max_norm);

}  // namespace ft::train
