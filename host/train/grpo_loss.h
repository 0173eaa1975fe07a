// The GRPO math, as TRL's GRPOTrainer computes it: group-relative advantages from per-sample rewards,
// per-token log-probabilities (and entropies) of completion tokens, and the clipped surrogate loss with
// the k3 KL penalty under the four aggregations (grpo, bnpo, dr_grpo, dapo). Pure tensor functions: no
// model state, no optimizer; the trainer (grpo.h) calls them.
#pragma once

#include <torch/torch.h>

#include <optional>
#include <string>
#include <vector>

#include "model/transformer.h"
#include "text/tokenizer.h"

namespace ft::train {

// ---- advantages ------------------------------------------------------------------------------------
struct Advantages {
  std::vector<double> values;          // one per sample (0 for samples with no reward)
  std::vector<double> std_per_sample;  // the std each sample was scaled by (group or batch std)
  double frac_reward_zero_std = 0;     // fraction of samples whose std is 0 (TRL's torch.isclose(std, 0))
  double reward_mean = 0;              // mean over samples with a reward
  double reward_std = 0;               // mean of std_per_sample (TRL logs the mean of the group stds)
  int64_t nil_samples = 0;             // samples where every reward function returned nil (NaN)
};

// rewards [N] with N = groups x G, sample i of group g at g*G + i; NaN = every reward function returned
// nil. A_i = (r_i - mean_group) / (std + 1e-4) with std the unbiased (Bessel) std of the group
// ("group") or of the whole batch ("batch"); "none" does not divide (Dr. GRPO). NaN samples are left out
// of the means and stds (nanmean/nanstd) and get advantage 0; a group with fewer than two rewarded
// samples has std 0.
// batch_std: for "batch" across data-parallel ranks, the std of every rank's rewards (unset: this batch's).
Advantages compute_advantages(const std::vector<double>& rewards, int64_t G, const std::string& scale_rewards,
                              std::optional<double> batch_std = std::nullopt);

// ---- log-probabilities -----------------------------------------------------------------------------
// One micro-batch of samples laid out for a forward pass: [prompt (left padded) | completion (right
// padded)]. Tensors live on the model's device.
struct PackedBatch {
  at::Tensor input_ids;        // [B, P + C] int64
  at::Tensor attention_mask;   // [B, P + C] int64
  at::Tensor completion_ids;   // [B, C] int64 (pad where completion_mask is 0)
  at::Tensor completion_mask;  // [B, C] float: 1 for generated tokens (EOS included), 0 for padding
  int64_t prompt_len = 0;      // P (the padded prompt width)
};
PackedBatch pack_samples(const std::vector<const std::vector<text::TokenId>*>& prompts,
                         const std::vector<const std::vector<text::TokenId>*>& completions, int64_t pad_id,
                         c10::Device device);

struct TokenLogps {
  at::Tensor logps;    // [B, C] float32: log p(completion token | everything before it)
  at::Tensor entropy;  // [B, C] float32, detached; undefined unless asked for
};
// One forward over the packed rows; logits only at the C positions that predict completion tokens,
// divided by `temperature` (TRL does the same, so the ratio matches the sampling distribution);
// log p = logit[token] - logsumexp(logits). Differentiable unless called under NoGradGuard.
TokenLogps completion_logps(model::CausalLM& lm, const PackedBatch& b, double temperature, bool with_entropy);

// ---- loss ------------------------------------------------------------------------------------------
struct LossOptions {
  std::string loss = "dapo";         // grpo | bnpo | dr_grpo | dapo
  double epsilon = 0.2;              // lower clip: ratio >= 1 - epsilon
  double epsilon_high = 0.2;         // upper clip: ratio <= 1 + epsilon_high
  double beta = 0.0;                 // KL coefficient (0: no reference policy)
  int64_t max_completion_len = 256;  // dr_grpo's normaliser
  int64_t grad_accum = 1;            // grpo / bnpo / dr_grpo losses are divided by it (as TRL does)
  // dapo: the completion tokens of the whole accumulated batch (every micro-batch of the step; TRL counts
  // them before truncated completions are masked).
  double dapo_tokens = 1;
  // When a call gets only some rows of a micro-batch (rows chunked to save memory): the micro-batch's row
  // count (grpo, dr_grpo) and loss tokens (bnpo). 0 / < 0: those of the rows given. The chunks' losses
  // then add up to the micro-batch's loss.
  int64_t batch_rows = 0;
  double batch_tokens = -1;
  // Data-parallel ranks whose gradients are summed: grpo / bnpo / dr_grpo (per-rank means, as TRL under
  // DDP's gradient mean) divide by it; dapo's dapo_tokens already counts every rank.
  int64_t world_size = 1;
};

struct LossStats {
  double loss = 0;  // value of the returned (already normalised) loss
  double kl = 0;    // masked token mean of the KL estimate (0 when beta = 0)
  double entropy = 0;
  double clip_low = 0, clip_high = 0, clip_region = 0;  // masked token fractions
  double tokens = 0;                                    // mask sum of this micro-batch
};

// The loss of one micro-batch. logps [B, C] (with grad), old_logps [B, C] (undefined: logps.detach(),
// i.e. ratio 1), ref_logps [B, C] (needed when beta != 0), advantages [B], mask [B, C] float.
// Per token: -min(rho A, clip(rho, 1 - eps, 1 + eps_high) A) + beta (exp(ref - logp) - (ref - logp) - 1).
at::Tensor grpo_loss(const at::Tensor& logps, const at::Tensor& old_logps, const at::Tensor& ref_logps,
                     const at::Tensor& advantages, const at::Tensor& mask, const at::Tensor& entropy,
                     const LossOptions& o, LossStats* stats);

// Throws ft::Error naming the option when loss / scale_rewards / epsilons are not valid.
void check_loss_options(const LossOptions& o);
void check_scale_rewards(const std::string& scale_rewards);

}  // namespace ft::train
