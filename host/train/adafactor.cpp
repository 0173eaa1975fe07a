// Adafactor as transformers.optimization.Adafactor computes it: second moments factored into row and
// column averages for >= 2-D parameters (full for vectors), beta2 rising as 1 - t^decay_rate, the update
// clipped to RMS <= clip_threshold, optional first moment (beta1), a relative step size and a parameter
// scale when asked, decoupled weight decay scaled by the step size. Low-precision parameters are
// updated through an fp32 copy; the state is fp32.
#include <cmath>

#include "core/error.h"
#include "train/optimizer.h"

namespace ft::train {

namespace {

at::Tensor rms(const at::Tensor& t) {
  return t.norm(2) / std::sqrt(static_cast<double>(t.numel()));
}

void check_state_shape(const std::string& key, const at::Tensor& t, at::IntArrayRef want) {
  if (t.sizes() != want)
    throw Error(
        "optimizer state: '" + key + "' has shape " + c10::str(t.sizes()) + ", expected " + c10::str(want),
        "the checkpoint was made for other parameters");
}

}  // namespace

Adafactor::Adafactor(NamedTensors params, const AdafactorOptions& o) : Optimizer(std::move(params)), o_(o) {
  if (o.warmup_init && !o.relative_step)
    throw Error("adafactor: warmup_init = true requires relative_step = true");
  if (o.clip_threshold <= 0) throw Error("adafactor: clip_threshold must be > 0");
  if (o.beta1 && (*o.beta1 < 0 || *o.beta1 >= 1)) throw Error("adafactor: beta1 must be in [0, 1)");
  slots_.resize(params_.size());
}

void Adafactor::step(double lr) {
  torch::NoGradGuard ng;
  ++step_;
  bool first = true;
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i].second;
    if (!p.grad().defined()) continue;
    const at::Tensor grad = p.grad().to(at::kFloat);
    Slot& s = slots_[i];
    const bool factored = grad.dim() >= 2;
    if (s.step == 0) {
      auto shape = grad.sizes().vec();
      if (o_.beta1) s.exp_avg = at::zeros_like(grad);
      if (factored) {
        auto row = shape, col = shape;
        row.pop_back();
        col.erase(col.end() - 2);
        s.row = at::zeros(row, grad.options());
        s.col = at::zeros(col, grad.options());
      } else {
        s.exp_avg_sq = at::zeros_like(grad);
      }
    }
    at::Tensor p32 = p.scalar_type() == at::kFloat ? p : p.to(at::kFloat);
    ++s.step;
    const double t = static_cast<double>(s.step);
    double step_size = lr;
    if (o_.relative_step) step_size = std::min(o_.warmup_init ? 1e-6 * t : 1e-2, 1.0 / std::sqrt(t));
    if (o_.scale_parameter) step_size *= std::max(o_.eps2, rms(p32).item<double>());
    const double beta2t = 1.0 - std::pow(t, o_.decay_rate);
    at::Tensor update = grad.square().add_(o_.eps1);
    if (factored) {
      s.row.mul_(beta2t).add_(update.mean(-1), 1.0 - beta2t);
      s.col.mul_(beta2t).add_(update.mean(-2), 1.0 - beta2t);
      // Rank-1 estimate of the second moment: row_i * col_j / mean(row).
      at::Tensor r = (s.row / s.row.mean(-1, true)).rsqrt_().unsqueeze(-1);
      at::Tensor c = s.col.unsqueeze(-2).rsqrt();
      update = (r * c).mul_(grad);
    } else {
      s.exp_avg_sq.mul_(beta2t).add_(update, 1.0 - beta2t);
      update = s.exp_avg_sq.rsqrt().mul_(grad);
    }
    update.div_((rms(update) / o_.clip_threshold).clamp_min_(1.0));
    update.mul_(step_size);
    if (o_.beta1) {
      s.exp_avg.mul_(*o_.beta1).add_(update, 1.0 - *o_.beta1);
      update = s.exp_avg;
    }
    if (o_.weight_decay != 0) p32.add_(p32, -o_.weight_decay * step_size);
    p32.sub_(update);
    if (!p32.is_same(p)) p.copy_(p32);
    if (first) last_lr_ = step_size;
    first = false;
  }
}

NamedTensors Adafactor::state() const {
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Slot& s = slots_[i];
    if (s.step == 0) continue;
    const std::string& n = params_[i].first;
    out.emplace_back(n + ".step", at::tensor({s.step}, at::kLong));
    if (s.exp_avg.defined()) out.emplace_back(n + ".exp_avg", s.exp_avg.cpu().clone());
    if (s.row.defined()) {
      out.emplace_back(n + ".exp_avg_sq_row", s.row.cpu().clone());
      out.emplace_back(n + ".exp_avg_sq_col", s.col.cpu().clone());
    } else {
      out.emplace_back(n + ".exp_avg_sq", s.exp_avg_sq.cpu().clone());
    }
  }
  out.emplace_back("step", at::tensor({step_}, at::kLong));
  return out;
}

void Adafactor::load_state(const std::map<std::string, at::Tensor>& st) {
  auto get = [&](const std::string& k) {
    auto it = st.find(k);
    if (it == st.end())
      throw Error("optimizer state: missing tensor '" + k + "'", "was it saved by another optimizer?");
    return it->second;
  };
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& n = params_[i].first;
    const at::Tensor& p = params_[i].second;
    Slot s;
    if (st.count(n + ".step")) {
      s.step = get(n + ".step").item<int64_t>();
      const auto opts = p.options().dtype(at::kFloat);
      auto shape = p.sizes().vec();
      if (o_.beta1) {
        s.exp_avg = get(n + ".exp_avg").to(opts).clone();
        check_state_shape(n + ".exp_avg", s.exp_avg, shape);
      }
      if (p.dim() >= 2) {
        auto row = shape, col = shape;
        row.pop_back();
        col.erase(col.end() - 2);
        s.row = get(n + ".exp_avg_sq_row").to(opts).clone();
        s.col = get(n + ".exp_avg_sq_col").to(opts).clone();
        check_state_shape(n + ".exp_avg_sq_row", s.row, row);
        check_state_shape(n + ".exp_avg_sq_col", s.col, col);
      } else {
        s.exp_avg_sq = get(n + ".exp_avg_sq").to(opts).clone();
        check_state_shape(n + ".exp_avg_sq", s.exp_avg_sq, shape);
      }
    }
    slots_[i] = std::move(s);
  }
  step_ = get("step").item<int64_t>();
}

}  // namespace ft::train
