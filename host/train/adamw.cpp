// AdamW with one step count for all parameters: FusedAdamW (the CPU kernel adamw_kernel) and ForeachAdamW
// (LibTorch's multi-tensor ops, or its fused CUDA kernel), sharing state and checkpoint layout.
#include <torch/version.h>

#include <cmath>

#include "core/error.h"
#include "train/adamw_kernel.h"
#include "train/optimizer.h"

namespace ft::train {

AdamWState::AdamWState(NamedTensors params, const AdamWOptions& o) : Optimizer(std::move(params)), o_(o) {
  for (auto& kv : params_) {
    m_.push_back(at::zeros_like(kv.second, at::MemoryFormat::Contiguous));
    v_.push_back(at::zeros_like(kv.second, at::MemoryFormat::Contiguous));
  }
}

FusedAdamW::FusedAdamW(NamedTensors params, const AdamWOptions& o) : AdamWState(std::move(params), o) {
  for (auto& [name, p] : params_)
    if (p.device().type() != at::kCPU || p.scalar_type() != at::kFloat || !p.is_contiguous())
      throw Error("adamw_fused: parameter '" + name + "' is not a contiguous fp32 CPU tensor",
                  "use optimizer = \"adamw\" (or \"adamw_foreach\") for GPU or low-precision parameters");
}

void FusedAdamW::step(double lr) {
  ++step_;
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i].second;
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    at::Tensor gc = g.contiguous();
    adamw_kernel(p.data_ptr<float>(), gc.data_ptr<float>(), m_[i].data_ptr<float>(), v_[i].data_ptr<float>(),
                 p.numel(), static_cast<float>(lr), static_cast<float>(o_.beta1),
                 static_cast<float>(o_.beta2), static_cast<float>(o_.eps),
                 static_cast<float>(o_.weight_decay), step_);
  }
}

ForeachAdamW::ForeachAdamW(NamedTensors params, const AdamWOptions& o) : AdamWState(std::move(params), o) {}

// The same arithmetic, in the same order, as torch::optim::AdamW and adamw_kernel: decoupled decay, the
// moments, eps added after dividing sqrt(v) by sqrt(1 - beta2^t), step lr / (1 - beta1^t).
void ForeachAdamW::step(double lr) {
  ++step_;
  std::vector<at::Tensor> ps, gs, ms, vs;
  for (size_t i = 0; i < params_.size(); ++i) {
    const at::Tensor& g = params_[i].second.grad();
    if (!g.defined()) continue;
    ps.push_back(params_[i].second);
    gs.push_back(g);
    ms.push_back(m_[i]);
    vs.push_back(v_[i]);
  }
  fused_ = false;
  if (ps.empty()) return;
  torch::NoGradGuard no_grad;
  const double b1 = o_.beta1, b2 = o_.beta2;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
  bool one_cuda_dtype = true;
  for (size_t i = 0; i < ps.size(); ++i)
    one_cuda_dtype = one_cuda_dtype && ps[i].is_cuda() && ps[i].device() == ps[0].device() &&
                     ps[i].scalar_type() == ps[0].scalar_type() && gs[i].scalar_type() == ps[0].scalar_type();
  if (one_cuda_dtype) {
    // The kernel reads each parameter's step count from a float tensor on the device (torch.optim's
    // _fused_adamw increments them before the call; here every parameter shares fthost's one count).
    at::Tensor t = at::full({}, static_cast<double>(step_), ps[0].options().dtype(at::kFloat));
    std::vector<at::Tensor> steps(ps.size(), t);
    at::_fused_adamw_(ps, gs, ms, vs, {}, steps, lr, b1, b2, o_.weight_decay, o_.eps, /*amsgrad=*/false,
                      /*maximize=*/false, c10::nullopt, c10::nullopt);
    fused_ = true;
    return;
  }
#endif
  const double bc1 = 1.0 - std::pow(b1, static_cast<double>(step_));
  const double bc2 = 1.0 - std::pow(b2, static_cast<double>(step_));
  if (o_.weight_decay != 0) at::_foreach_mul_(ps, 1.0 - lr * o_.weight_decay);
  at::_foreach_mul_(ms, b1);
  at::_foreach_add_(ms, gs, 1.0 - b1);
  at::_foreach_mul_(vs, b2);
  at::_foreach_addcmul_(vs, gs, gs, 1.0 - b2);
  std::vector<at::Tensor> denom = at::_foreach_sqrt(vs);
  at::_foreach_div_(denom, std::sqrt(bc2));
  at::_foreach_add_(denom, o_.eps);
  at::_foreach_addcdiv_(ps, ms, denom, -lr / bc1);
}

NamedTensors AdamWState::state() const {
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out.emplace_back(params_[i].first + ".exp_avg", m_[i].clone());
    out.emplace_back(params_[i].first + ".exp_avg_sq", v_[i].clone());
  }
  out.emplace_back("step", at::tensor({step_}, at::kLong));
  return out;
}

void AdamWState::load_state(const std::map<std::string, at::Tensor>& st) {
  auto get = [&](const std::string& k, const at::Tensor& like) {
    auto it = st.find(k);
    if (it == st.end()) throw Error("optimizer state: missing tensor '" + k + "'");
    if (it->second.sizes() != like.sizes()) throw Error("optimizer state: '" + k + "' has the wrong shape");
    return it->second;
  };
  for (size_t i = 0; i < params_.size(); ++i) {
    m_[i].copy_(get(params_[i].first + ".exp_avg", m_[i]));
    v_[i].copy_(get(params_[i].first + ".exp_avg_sq", v_[i]));
  }
  auto it = st.find("step");
  if (it == st.end()) throw Error("optimizer state: missing 'step'");
  step_ = it->second.item<int64_t>();
}

}  // namespace ft::train
