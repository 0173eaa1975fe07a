// The GRPO trainer (on a TrainState, train_state.h): rollouts (G sampled completions per prompt, the
// prompt's KV cache shared by its G samples), then num_iterations optimizer steps over each rollout with
// the clipped surrogate loss (grpo_loss.h). Rewards come from the caller (Lua reward functions). The
// reference policy for beta > 0 is the same model with its LoRA adapters disabled, or a frozen copy of the
// model for full fine-tuning. Checkpoints and exact resume go through TrainState; the rollout seed and
// the prompt order are pure functions of (seed, step), so the step is all resume needs.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "model/model.h"
#include "train/grpo_loss.h"
#include "train/train_state.h"

namespace ft::train {

// Defaults are TRL's GRPOConfig defaults.
struct GrpoOptions : StepOptions {
  GrpoOptions() { schedule.lr = 1e-6; }
  int64_t num_generations = 8;   // G, completions per prompt (>= 2)
  int64_t max_prompt_len = 512;  // longer prompts keep their last tokens (TRL truncates left); <= 0: no limit
  int64_t max_completion_len = 256;  // new tokens per completion
  model::SamplingParams sampling;    // temperature 1, no top-k/top-p/min-p, repetition_penalty 1
  std::optional<std::vector<text::TokenId>> eos_ids;  // unset: the model's EOS ids
  std::vector<std::string> stop;  // stop strings (a completion ends when its text contains one)
  double beta = 0.0;              // KL coefficient; 0: no reference policy is kept
  double epsilon = 0.2;
  double epsilon_high = -1;                 // < 0: = epsilon
  std::string loss = "dapo";                // grpo | bnpo | dr_grpo | dapo
  std::string scale_rewards = "group";      // group | batch | none
  int64_t num_iterations = 1;               // optimizer steps per rollout (old log-probs stored when > 1)
  bool mask_truncated_completions = false;  // completions that hit max_completion_len get no loss
  int64_t batch_size = 8;                   // completions per micro-batch
  int64_t grad_accum = 1;                   // micro-batches per optimizer step
  int64_t max_steps = 0;                    // optimizer steps in all (required, >= 1)
  // Rows per forward/backward inside a micro-batch (0: the whole micro-batch). Smaller chunks hold fewer
  // [rows, completion_len, vocab] logits at once; the loss and gradients are the same.
  int64_t logps_chunk_rows = 0;
  bool share_prompt_cache = true;   // false: prefill every sample's prompt separately (benchmarks)
  std::string ref_device;           // full fine-tuning: device of the frozen reference copy ("" = model's)
  bool skip_special_tokens = true;  // for the decoded completion text
};

// One rollout: prompt p's sample i is at index p*G + i.
struct Rollout {
  int64_t step = 0;  // optimizer steps done when it was generated
  int64_t num_prompts = 0, G = 0;
  std::vector<std::vector<text::TokenId>> prompts;      // per prompt, after left truncation
  int64_t prompts_truncated = 0;                        // prompts longer than max_prompt_len
  std::vector<std::vector<text::TokenId>> completions;  // per sample (EOS included when generated)
  std::vector<std::string> text, finish_reason;         // finish: "eos", "stop" or "length"
  std::vector<bool> truncated;                          // finish_reason == "length"
  at::Tensor old_logps;  // [N, Cmax] float32 on CPU when num_iterations > 1 (else: the detached current)
  at::Tensor ref_logps;  // [N, Cmax] float32 on CPU when beta > 0
  model::GenerateStats generation;
  double seconds_generate = 0, seconds_logps = 0;
  std::vector<double> advantages;  // filled by train(): one per sample
  bool trained = false;
  int64_t size() const { return num_prompts * G; }
  int64_t bytes() const;  // tensors and token ids held (for the Lua GC)
};

struct GrpoStepStats {
  int64_t step = 0;       // steps done after this one
  int64_t iteration = 0;  // 0-based index of this step within its rollout (< num_iterations)
  double loss = 0, lr = 0, grad_norm = 0;
  bool applied = true;  // false: NaN/inf gradients, update skipped
  // Token means over the step's loss mask (every micro-batch).
  double kl = 0, entropy = 0, clip_low = 0, clip_high = 0, clip_region = 0;
  int64_t loss_tokens = 0;
  double reward_mean = 0, reward_std = 0, frac_reward_zero_std = 0;
  int64_t nil_rewards = 0;  // samples whose reward functions all returned nil
  double completion_len_mean = 0;
  int64_t completion_len_min = 0, completion_len_max = 0;
  double truncated_frac = 0;  // completions that hit max_completion_len (TRL's completions/clipped_ratio)
  // Rollout time (generation + log-prob passes) is reported on the rollout's first step, 0 on the others.
  double seconds_rollout = 0, seconds_train = 0;
};

class GrpoTrainer {
 public:
  GrpoTrainer(std::shared_ptr<model::Model> m, const GrpoOptions& o);

  // Prompts per rollout: batch_size * grad_accum / num_generations.
  int64_t prompts_per_step() const { return prompts_per_step_; }
  // Generates G completions for each of prompts_per_step() prompts (token ids), seeded by (seed, step).
  std::shared_ptr<Rollout> rollout(const std::vector<std::vector<text::TokenId>>& prompts);
  // Advantages from `rewards` (one per sample, NaN = no reward), then num_iterations optimizer steps
  // (fewer when max_steps is reached first). A rollout trains once.
  std::vector<GrpoStepStats> train(Rollout& r, const std::vector<double>& rewards);

  // Indices (0-based) of the dataset rows to prompt at the current step: a seeded permutation per epoch
  // over num_rows, prompts_per_step() rows per rollout (a last partial batch of an epoch is dropped).
  std::vector<int64_t> prompt_indices(int64_t num_rows) const;

  // Checkpoint at <output>/checkpoint-<step>; `extra` (any JSON object) is stored and given back by load.
  std::string save(const nlohmann::json& extra = {});
  // Restores a checkpoint folder; returns the `extra` saved with it (null when none).
  nlohmann::json load(const std::string& dir);
  // Restores <output>/latest when present; returns the step resumed at (0: nothing to resume).
  int64_t resume(nlohmann::json* extra = nullptr);

  // Connects the ranks of a data-parallel run (rank_sync.h); each rank trains on its own prompts (whole
  // groups). In this order on every rank: per train(), one sum of {completion tokens[, reward count, sum,
  // sum of squares for scale_rewards = "batch"]}; per optimizer step, the gradient sums of
  // TrainState::update() and one sum of {loss} for the logged (global) loss.
  void set_rank_sync(std::shared_ptr<RankSync> sync) { state_->set_rank_sync(std::move(sync)); }

  int64_t global_step() const { return state_->step(); }
  int64_t total_steps() const { return state_->total_steps(); }
  double current_lr() const { return state_->lr(); }
  bool done() const { return state_->done(); }
  const GrpoOptions& options() const { return opt_; }
  // "none" (beta = 0), "adapters_disabled" (LoRA) or "copy" (a frozen copy of the model).
  const std::string& reference_kind() const { return ref_kind_; }

  // Log-probabilities [N, Cmax] (float32, CPU, 0 in padding) of a rollout's completions under `lm`,
  // without gradients, logps_chunk_rows (0: batch_size) rows at a time.
  at::Tensor rollout_logps(model::CausalLM& lm, const Rollout& r);

 private:
  PackedBatch pack(const Rollout& r, int64_t begin, int64_t end, c10::Device device) const;
  at::Tensor reference_logps(const Rollout& r);

  std::shared_ptr<model::Model> m_;
  GrpoOptions opt_;
  LossOptions loss_;
  int64_t prompts_per_step_ = 0;
  int64_t pad_id_ = 0;
  std::string ref_kind_ = "none";
  std::shared_ptr<model::Model> ref_;  // the frozen copy (ref_kind_ == "copy")
  std::unique_ptr<TrainState> state_;
};

}  // namespace ft::train
