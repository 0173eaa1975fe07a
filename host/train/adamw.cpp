// FusedAdamW: the optimizer object around adamw_kernel (state tensors, steps, checkpoint state).
#include "core/error.h"
#include "train/adamw_kernel.h"
#include "train/optimizer.h"

namespace ft::train {

FusedAdamW::FusedAdamW(NamedTensors params, const AdamWOptions& o) : Optimizer(std::move(params)), o_(o) {
  for (auto& [name, p] : params_) {
    if (p.device().type() != at::kCPU || p.scalar_type() != at::kFloat || !p.is_contiguous())
      throw Error("adamw_fused: parameter '" + name + "' is not a contiguous fp32 CPU tensor",
                  "use optimizer = \"adamw_torch\" for GPU or low-precision parameters");
    m_.push_back(at::zeros_like(p));
    v_.push_back(at::zeros_like(p));
  }
}

void FusedAdamW::step(double lr) {
  ++step_;
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i].second;
    const at::Tensor& g = p.grad();
    if (!g.defined()) continue;
    at::Tensor gc = g.contiguous();
    adamw_kernel(p.data_ptr<float>(), gc.data_ptr<float>(), m_[i].data_ptr<float>(), v_[i].data_ptr<float>(),
                 p.numel(), static_cast<float>(lr), static_cast<float>(o_.beta1), static_cast<float>(o_.beta2),
                 static_cast<float>(o_.eps), static_cast<float>(o_.weight_decay), step_);
  }
}

NamedTensors FusedAdamW::state() const {
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out.emplace_back(params_[i].first + ".exp_avg", m_[i].clone());
    out.emplace_back(params_[i].first + ".exp_avg_sq", v_[i].clone());
  }
  out.emplace_back("step", at::tensor({step_}, at::kLong));
  return out;
}

void FusedAdamW::load_state(const std::map<std::string, at::Tensor>& st) {
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
