// Mixed precision for a trainer: the model's trainable parameters stay in bf16/fp16 (forward and backward
// run there) while fp32 master copies carry the optimizer update. After backward, gradients move into the
// masters (divided by the fp16 loss scale), the optimizer steps the masters, and the result is cast back
// into the model. fp16 adds a dynamic LossScaler; bf16 needs none.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "train/loss_scaler.h"

namespace ft::train {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// "fp32" | "bf16" | "fp16" for a model dtype (anything else: ft::Error).
std::string precision_of(c10::ScalarType dtype);
c10::ScalarType dtype_of_precision(const std::string& precision);  // throws for an unknown name

// Throws ft::Error when this LibTorch cannot train in `dtype` on `device` (fp16 matmul on CPU before
// LibTorch 2), with a hint; probes with a tiny matmul, so newer builds pass without a version check.
void check_precision_supported(c10::Device device, c10::ScalarType dtype);

class MixedPrecision {
 public:
  // `params`: the model's trainable low-precision tensors. fp16 gets a loss scaler.
  MixedPrecision(NamedTensors params, c10::ScalarType dtype, const LossScalerOptions& scaler = {});

  // fp32 copies of the parameters, with fp32 gradients after unscale_grads(): what the optimizer steps.
  const NamedTensors& masters() const { return masters_; }
  // The loss to backpropagate: loss * scale for fp16, the loss itself for bf16.
  at::Tensor scale_loss(const at::Tensor& loss) const;
  double loss_scale() const { return scaler_ ? scaler_->scale() : 1.0; }
  LossScaler* scaler() { return scaler_.get(); }
  // Moves the model gradients into the masters' (fp32, divided by the loss scale) and clears the model's.
  void unscale_grads();
  // After a step: records an overflow (skipped step) or a clean one in the loss scaler (fp16).
  void record_step(bool overflow);
  // Casts the masters back into the model parameters (after an optimizer step or a checkpoint load).
  void copy_to_params();
  void zero_grad();

 private:
  NamedTensors params_, masters_;
  std::unique_ptr<LossScaler> scaler_;
};

}  // namespace ft::train
