// Optimizer plumbing: zero_grad, gradient clipping, the LibTorch AdamW wrapper, the factory.
#include "train/optimizer.h"

#include <cmath>

#include "core/error.h"

namespace ft::train {

// Gradients are released, not zeroed (torch's zero_grad(set_to_none=True)): the next backward writes
// fresh ones instead of adding into zeros, which saves a pass over every gradient twice per step, and the
// CPU allocation cache hands the same buffers back. A parameter that then gets no gradient is skipped by
// the optimizers, as in torch.
void Optimizer::zero_grad() {
  for (auto& kv : params_)
    if (kv.second.grad().defined()) kv.second.mutable_grad() = at::Tensor();
}

double clip_grad_norm(const NamedTensors& params, double max_norm) {
  double total = 0;
  for (auto& kv : params) {
    const at::Tensor& g = kv.second.grad();
    if (!g.defined()) continue;
    double n = g.norm(2).item<double>();
    total += n * n;
  }
  total = std::sqrt(total);
  if (max_norm > 0 && total > max_norm && std::isfinite(total)) {
    const double coef = max_norm / (total + 1e-6);
    for (auto& kv : params)
      if (kv.second.grad().defined()) kv.second.mutable_grad().mul_(coef);
  }
  return total;
}

TorchAdamW::TorchAdamW(NamedTensors params, const AdamWOptions& o) : Optimizer(std::move(params)) {
  std::vector<at::Tensor> ps;
  for (auto& kv : params_) ps.push_back(kv.second);
  torch::optim::AdamWOptions opt(1e-3);
  opt.betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weight_decay);
  opt_ = std::make_unique<torch::optim::AdamW>(ps, opt);
}

void TorchAdamW::step(double lr) {
  ++step_;
  for (auto& g : opt_->param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
  opt_->step();
}

NamedTensors TorchAdamW::state() const {
  NamedTensors out;
  auto& st = opt_->state();
  for (auto& kv : params_) {
    auto it = st.find(c10::guts::to_string(kv.second.unsafeGetTensorImpl()));
    if (it == st.end()) continue;
    auto& s = static_cast<torch::optim::AdamWParamState&>(*it->second);
    out.emplace_back(kv.first + ".exp_avg", s.exp_avg().cpu().clone());
    out.emplace_back(kv.first + ".exp_avg_sq", s.exp_avg_sq().cpu().clone());
    out.emplace_back(kv.first + ".step", at::tensor({s.step()}, at::kLong));
  }
  out.emplace_back("step", at::tensor({step_}, at::kLong));
  return out;
}

void TorchAdamW::load_state(const std::map<std::string, at::Tensor>& st) {
  auto& state = opt_->state();
  for (auto& kv : params_) {
    auto a = st.find(kv.first + ".exp_avg"), b = st.find(kv.first + ".exp_avg_sq"),
         c = st.find(kv.first + ".step");
    if (a == st.end() || b == st.end() || c == st.end()) continue;  // parameter not stepped yet
    auto s = std::make_unique<torch::optim::AdamWParamState>();
    s->exp_avg(a->second.to(kv.second.device()).clone());
    s->exp_avg_sq(b->second.to(kv.second.device()).clone());
    s->step(c->second.item<int64_t>());
    state[c10::guts::to_string(kv.second.unsafeGetTensorImpl())] = std::move(s);
  }
  auto it = st.find("step");
  if (it == st.end()) throw Error("optimizer state: missing 'step'");
  step_ = it->second.item<int64_t>();
}

std::unique_ptr<Optimizer> make_optimizer(const std::string& kind, NamedTensors params, const AdamWOptions& o,
                                          const AdafactorOptions& adafactor, const SgdOptions& sgd) {
  if (params.empty())
    throw Error("the model has no trainable parameters", "call m:lora{...}, or unfreeze parameters");
  bool cpu_fp32 = true;
  for (auto& kv : params)
    cpu_fp32 = cpu_fp32 && kv.second.device().is_cpu() && kv.second.scalar_type() == at::kFloat &&
               kv.second.is_contiguous();
  if (kind == "adamw_fused" || (kind == "adamw" && cpu_fp32)) return std::make_unique<FusedAdamW>(params, o);
  if (kind == "adamw" || kind == "adamw_foreach") return std::make_unique<ForeachAdamW>(params, o);
  if (kind == "adamw_torch") return std::make_unique<TorchAdamW>(params, o);
  if (kind == "adafactor") return std::make_unique<Adafactor>(params, adafactor);
  if (kind == "sgd") return std::make_unique<Sgd>(params, sgd);
  throw Error("unknown optimizer '" + kind +
              "' (expected adamw, adamw_fused, adamw_foreach, adamw_torch, adafactor or sgd)");
}

}  // namespace ft::train
