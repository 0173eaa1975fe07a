// SGD as torch.optim.SGD: L2 weight decay added to the gradient, momentum buffer started from the first
// gradient and then updated with dampening, Nesterov look-ahead on request. Low-precision parameters are
// updated through an fp32 copy; the momentum buffers are fp32.
#include "core/error.h"
#include "train/optimizer.h"

namespace ft::train {

Sgd::Sgd(NamedTensors params, const SgdOptions& o) : Optimizer(std::move(params)), o_(o) {
  if (o.momentum < 0) throw Error("sgd: momentum must be >= 0, got " + std::to_string(o.momentum));
  if (o.weight_decay < 0)
    throw Error("sgd: weight_decay must be >= 0, got " + std::to_string(o.weight_decay));
  if (o.nesterov && (o.momentum <= 0 || o.dampening != 0))
    throw Error("sgd: Nesterov momentum requires a momentum and zero dampening",
                "set momentum > 0 and dampening = 0, or nesterov = false");
  momentum_.resize(params_.size());
}

void Sgd::step(double lr) {
  torch::NoGradGuard ng;
  ++step_;
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i].second;
    if (!p.grad().defined()) continue;
    at::Tensor p32 = p.scalar_type() == at::kFloat ? p : p.to(at::kFloat);
    at::Tensor d = p.grad().to(at::kFloat);
    if (o_.weight_decay != 0) d = d.add(p32, o_.weight_decay);
    if (o_.momentum != 0) {
      at::Tensor& buf = momentum_[i];
      if (!buf.defined())
        buf = d.clone();
      else
        buf.mul_(o_.momentum).add_(d, 1.0 - o_.dampening);
      d = o_.nesterov ? d.add(buf, o_.momentum) : buf;
    }
    p32.add_(d, -lr);
    if (!p32.is_same(p)) p.copy_(p32);
  }
}

NamedTensors Sgd::state() const {
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i)
    if (momentum_[i].defined())
      out.emplace_back(params_[i].first + ".momentum_buffer", momentum_[i].cpu().clone());
  out.emplace_back("step", at::tensor({step_}, at::kLong));
  return out;
}

void Sgd::load_state(const std::map<std::string, at::Tensor>& st) {
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string key = params_[i].first + ".momentum_buffer";
    auto it = st.find(key);
    momentum_[i] = at::Tensor();
    if (it == st.end()) continue;  // no update yet (or momentum 0)
    const at::Tensor& p = params_[i].second;
    if (it->second.sizes() != p.sizes())
      throw Error("optimizer state: '" + key + "' has shape " + c10::str(it->second.sizes()) + ", expected " +
                  c10::str(p.sizes()));
    momentum_[i] = it->second.to(p.options().dtype(at::kFloat)).clone();
  }
  auto it = st.find("step");
  if (it == st.end()) throw Error("optimizer state: missing 'step'");
  step_ = it->second.item<int64_t>();
}

}  // namespace ft::train
