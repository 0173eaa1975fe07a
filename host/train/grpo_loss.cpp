// GRPO advantages, completion log-probabilities and the clipped surrogate loss (see grpo_loss.h).
#include "train/grpo_loss.h"

#include <cmath>
#include <limits>

#include "core/error.h"

namespace ft::train {

namespace {

// TRL adds this to the std before dividing (so a zero-std group gives advantages 0, not NaN).
constexpr double kStdEpsilon = 1e-4;
// torch.isclose(std, 0) with its default atol: how TRL decides that a group's rewards are all equal.
constexpr double kZeroStdAtol = 1e-8;

struct MeanStd {
  double mean = std::numeric_limits<double>::quiet_NaN();
  double std = 0;
};

// Mean and unbiased std of the non-NaN values in [begin, end); std 0 with fewer than two values.
MeanStd nan_mean_std(const std::vector<double>& v, size_t begin, size_t end) {
  MeanStd r;
  double sum = 0;
  int64_t n = 0;
  for (size_t i = begin; i < end; ++i)
    if (!std::isnan(v[i])) sum += v[i], ++n;
  if (n == 0) return r;
  r.mean = sum / static_cast<double>(n);
  if (n < 2) return r;
  double ss = 0;
  for (size_t i = begin; i < end; ++i)
    if (!std::isnan(v[i])) ss += (v[i] - r.mean) * (v[i] - r.mean);
  r.std = std::sqrt(ss / static_cast<double>(n - 1));
  return r;
}

}  // namespace

void check_scale_rewards(const std::string& s) {
  if (s != "group" && s != "batch" && s != "none")
    throw Error("scale_rewards must be \"group\", \"batch\" or \"none\", found \"" + s + "\"",
                "\"group\" divides by each group's reward std (TRL's default), \"none\" is Dr. GRPO");
}

void check_loss_options(const LossOptions& o) {
  if (o.loss != "grpo" && o.loss != "bnpo" && o.loss != "dr_grpo" && o.loss != "dapo")
    throw Error("loss must be one of grpo, bnpo, dr_grpo, dapo; found \"" + o.loss + "\"",
                "TRL's loss_type names; dapo (the default) normalises by the tokens of the whole batch");
  if (!(o.epsilon >= 0 && o.epsilon < 1))
    throw Error("epsilon must be in [0, 1), found " + std::to_string(o.epsilon));
  if (!(o.epsilon_high >= 0))
    throw Error("epsilon_high must be >= 0, found " + std::to_string(o.epsilon_high));
  if (!std::isfinite(o.beta) || o.beta < 0) throw Error("beta must be >= 0, found " + std::to_string(o.beta));
  if (o.max_completion_len < 1) throw Error("max_completion_len must be >= 1");
  if (o.grad_accum < 1) throw Error("grad_accum must be >= 1");
}

Advantages compute_advantages(const std::vector<double>& rewards, int64_t G, const std::string& scale,
                              std::optional<double> batch_std) {
  check_scale_rewards(scale);
  const size_t N = rewards.size();
  if (G < 1 || N % static_cast<size_t>(G) != 0)
    throw Error("advantages: " + std::to_string(N) + " rewards do not split into groups of " +
                std::to_string(G) + " (num_generations)");
  Advantages a;
  a.values.assign(N, 0.0);
  a.std_per_sample.assign(N, 0.0);
  const MeanStd batch = nan_mean_std(rewards, 0, N);
  int64_t zero = 0;
  for (size_t g0 = 0; g0 < N; g0 += static_cast<size_t>(G)) {
    const size_t g1 = g0 + static_cast<size_t>(G);
    const MeanStd group = nan_mean_std(rewards, g0, g1);
    const double s = scale == "batch" ? batch_std.value_or(batch.std) : group.std;
    for (size_t i = g0; i < g1; ++i) {
      a.std_per_sample[i] = s;
      if (std::abs(s) <= kZeroStdAtol) ++zero;
      if (std::isnan(rewards[i])) continue;  // every reward function returned nil: advantage 0
      const double centred = rewards[i] - group.mean;
      a.values[i] = scale == "none" ? centred : centred / (s + kStdEpsilon);
    }
  }
  double std_sum = 0;
  for (double s : a.std_per_sample) std_sum += s;
  for (double r : rewards) a.nil_samples += std::isnan(r) ? 1 : 0;
  a.frac_reward_zero_std = N ? static_cast<double>(zero) / static_cast<double>(N) : 0.0;
  a.reward_mean = std::isnan(batch.mean) ? 0.0 : batch.mean;
  a.reward_std = N ? std_sum / static_cast<double>(N) : 0.0;
  return a;
}

PackedBatch pack_samples(const std::vector<const std::vector<text::TokenId>*>& prompts,
                         const std::vector<const std::vector<text::TokenId>*>& completions, int64_t pad_id,
                         c10::Device device) {
  if (prompts.size() != completions.size() || prompts.empty())
    throw Error("pack_samples: expected as many prompts as completions (and at least one)");
  const int64_t B = static_cast<int64_t>(prompts.size());
  int64_t P = 0, C = 0;
  for (int64_t b = 0; b < B; ++b) {
    P = std::max<int64_t>(P, static_cast<int64_t>(prompts[b]->size()));
    C = std::max<int64_t>(C, static_cast<int64_t>(completions[b]->size()));
  }
  if (P == 0) throw Error("pack_samples: every prompt is empty (a prompt needs at least one token)");
  if (C == 0) C = 1;  // keep a column so shapes stay valid; it is masked out
  auto ids = at::full({B, P + C}, pad_id, at::kLong);
  auto mask = at::zeros({B, P + C}, at::kLong);
  auto ia = ids.accessor<int64_t, 2>();
  auto ma = mask.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = *prompts[b];
    const auto& c = *completions[b];
    if (p.empty()) throw Error("pack_samples: prompt " + std::to_string(b + 1) + " has no tokens");
    const int64_t off = P - static_cast<int64_t>(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
      ia[b][off + static_cast<int64_t>(i)] = p[i];
      ma[b][off + static_cast<int64_t>(i)] = 1;
    }
    for (size_t i = 0; i < c.size(); ++i) {
      ia[b][P + static_cast<int64_t>(i)] = c[i];
      ma[b][P + static_cast<int64_t>(i)] = 1;
    }
  }
  PackedBatch out;
  out.prompt_len = P;
  out.input_ids = ids.to(device);
  out.attention_mask = mask.to(device);
  out.completion_ids = out.input_ids.narrow(1, P, C);
  out.completion_mask = out.attention_mask.narrow(1, P, C).to(at::kFloat);
  return out;
}

TokenLogps completion_logps(model::CausalLM& lm, const PackedBatch& b, double temperature,
                            bool with_entropy) {
  model::ForwardInput in;
  in.input_ids = b.input_ids;
  in.attention_mask = b.attention_mask;
  const int64_t C = b.completion_ids.size(1);
  // Position P-1+t predicts completion token t.
  at::Tensor h = lm->hidden_states(in).narrow(1, b.prompt_len - 1, C);
  at::Tensor logits = lm->logits(h).to(at::kFloat);
  if (temperature > 0 && temperature != 1.0) logits = logits / temperature;
  at::Tensor lse = logits.logsumexp(-1);
  TokenLogps out;
  out.logps = logits.gather(-1, b.completion_ids.unsqueeze(-1)).squeeze(-1) - lse;
  if (with_entropy) {
    torch::NoGradGuard ng;
    at::Tensor l = logits.detach();
    out.entropy = lse.detach() - (l.softmax(-1) * l).sum(-1);
  }
  return out;
}

at::Tensor grpo_loss(const at::Tensor& logps, const at::Tensor& old_logps, const at::Tensor& ref_logps,
                     const at::Tensor& advantages, const at::Tensor& mask, const at::Tensor& entropy,
                     const LossOptions& o, LossStats* stats) {
  if (logps.dim() != 2 || mask.sizes() != logps.sizes())
    throw Error("grpo_loss: logps and mask must both be [batch, completion_len], found " +
                c10::str(logps.sizes()) + " and " + c10::str(mask.sizes()));
  if (advantages.dim() != 1 || advantages.size(0) != logps.size(0))
    throw Error("grpo_loss: expected one advantage per row (" + std::to_string(logps.size(0)) + "), found " +
                c10::str(advantages.sizes()));
  if (o.beta != 0 && !ref_logps.defined())
    throw Error("grpo_loss: beta != 0 needs the reference policy's log-probabilities");
  const at::Tensor old = old_logps.defined() ? old_logps : logps.detach();
  const at::Tensor A = advantages.to(logps.options()).unsqueeze(1);
  const at::Tensor m = mask.to(logps.options());
  at::Tensor ratio = at::exp(logps - old);
  at::Tensor clipped = at::clamp(ratio, 1.0 - o.epsilon, 1.0 + o.epsilon_high);
  at::Tensor per_token = -at::min(ratio * A, clipped * A);
  at::Tensor kl;
  if (o.beta != 0) {
    at::Tensor d = ref_logps.to(logps.options()) - logps;
    kl = at::exp(d) - d - 1.0;
    per_token = per_token + o.beta * kl;
  }
  const at::Tensor masked = per_token * m;
  // Per-micro-batch means, averaged over the accumulation steps and the data-parallel ranks.
  const double accum = static_cast<double>(o.grad_accum * std::max<int64_t>(1, o.world_size));
  const double rows = static_cast<double>(o.batch_rows > 0 ? o.batch_rows : logps.size(0));
  at::Tensor loss;
  if (o.loss == "grpo") {
    loss = (masked.sum(-1) / m.sum(-1).clamp_min(1.0)).sum() / rows / accum;
  } else if (o.loss == "bnpo") {
    const at::Tensor tokens = o.batch_tokens >= 0 ? at::scalar_tensor(o.batch_tokens, m.options()) : m.sum();
    loss = masked.sum() / tokens.clamp_min(1.0) / accum;
  } else if (o.loss == "dr_grpo") {
    loss = masked.sum() / (rows * static_cast<double>(o.max_completion_len)) / accum;
  } else if (o.loss == "dapo") {
    loss = masked.sum() / std::max(1.0, o.dapo_tokens);
  } else {
    check_loss_options(o);  // throws naming the valid values
  }
  if (stats) {
    torch::NoGradGuard ng;
    const double tokens = m.sum().item<double>();
    const double denom = std::max(1.0, tokens);
    auto masked_mean = [&](const at::Tensor& x) {
      return (x.to(at::kFloat) * m).sum().item<double>() / denom;
    };
    const at::Tensor r = ratio.detach();
    const at::Tensor low = (r < 1.0 - o.epsilon) & (A < 0);
    const at::Tensor high = (r > 1.0 + o.epsilon_high) & (A > 0);
    stats->tokens = tokens;
    stats->loss = loss.item<double>();
    stats->kl = kl.defined() ? masked_mean(kl.detach()) : 0.0;
    stats->entropy = entropy.defined() ? masked_mean(entropy) : 0.0;
    stats->clip_low = masked_mean(low);
    stats->clip_high = masked_mean(high);
    stats->clip_region = masked_mean(low | high);
  }
  return loss;
}

}  // namespace ft::train
