// fp32 master weights and the fp16 loss scale around a low-precision model (see mixed_precision.h).
#include "train/mixed_precision.h"

#include "core/error.h"

namespace ft::train {

std::string precision_of(c10::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat:
      return "fp32";
    case at::kBFloat16:
      return "bf16";
    case at::kHalf:
      return "fp16";
    default:
      throw Error(std::string("cannot train a model in dtype ") + c10::toString(dtype),
                  "use fp32, bf16 or fp16");
  }
}

c10::ScalarType dtype_of_precision(const std::string& p) {
  if (p == "fp32" || p == "f32" || p == "float32") return at::kFloat;
  if (p == "bf16" || p == "bfloat16") return at::kBFloat16;
  if (p == "fp16" || p == "f16" || p == "float16") return at::kHalf;
  throw Error("unknown precision '" + p + "' (expected fp32, bf16 or fp16)");
}

void check_precision_supported(c10::Device device, c10::ScalarType dtype) {
  if (dtype == at::kFloat) return;
  try {
    torch::NoGradGuard ng;
    auto a = at::ones({2, 2}, at::TensorOptions().dtype(dtype).device(device));
    (void)at::matmul(a, a);
  } catch (const c10::Error&) {
    throw Error("precision " + precision_of(dtype) + ": this LibTorch has no " + c10::toString(dtype) +
                    " matrix multiply on " + device.str(),
                dtype == at::kHalf
                    ? "fp16 training needs a CUDA device (or LibTorch >= 2 on CPU); use precision = "
                      "\"bf16\" (or \"fp32\") on this machine"
                    : "use precision = \"fp32\" on this device");
  }
}

MixedPrecision::MixedPrecision(NamedTensors params, c10::ScalarType dtype, const LossScalerOptions& scaler)
    : params_(std::move(params)) {
  torch::NoGradGuard ng;
  for (auto& [name, p] : params_) {
    at::Tensor m = p.detach().to(at::kFloat, /*non_blocking=*/false, /*copy=*/true).contiguous();
    m.set_requires_grad(true);
    masters_.emplace_back(name, m);
  }
  if (dtype == at::kHalf) scaler_ = std::make_unique<LossScaler>(scaler);
}

at::Tensor MixedPrecision::scale_loss(const at::Tensor& loss) const {
  return scaler_ ? loss * scaler_->scale() : loss;
}

void MixedPrecision::unscale_grads() {
  torch::NoGradGuard ng;
  const double inv = 1.0 / loss_scale();
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i].second;
    at::Tensor& m = masters_[i].second;
    if (!p.grad().defined()) {
      m.mutable_grad() = at::Tensor();
      continue;
    }
    if (!m.grad().defined()) m.mutable_grad() = at::empty_like(m);
    m.mutable_grad().copy_(p.grad());
    if (inv != 1.0) m.mutable_grad().mul_(inv);
    p.mutable_grad() = at::Tensor();  // the low-precision gradient is not needed until the next backward
  }
}

void MixedPrecision::record_step(bool overflow) {
  if (scaler_) scaler_->update(overflow);
}

void MixedPrecision::copy_to_params() {
  torch::NoGradGuard ng;
  for (size_t i = 0; i < params_.size(); ++i) params_[i].second.copy_(masters_[i].second);
}

void MixedPrecision::zero_grad() {
  for (auto& kv : params_) kv.second.mutable_grad() = at::Tensor();
  for (auto& kv : masters_)
    if (kv.second.grad().defined()) kv.second.mutable_grad().zero_();
}

}  // namespace ft::train
