// The SFT trainer (on a TrainState, train_state.h): optimizer steps over right-padded micro-batches with
// gradient accumulation (the loss is summed over label tokens and divided by the label tokens of the whole
// accumulated batch), gradient clipping, LR schedule, evaluation, and atomic checkpoints with exact resume
// (trainable weights, optimizer, step, RNG; the data position follows from the step because the sampler is
// deterministic). The Lua side drives the loop (progress, hooks, metrics); each step() is all-or-nothing.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/batch.h"
#include "data/format.h"
#include "model/model.h"
#include "train/train_state.h"

namespace ft::train {

struct TrainerOptions : StepOptions {
  int64_t batch_size = 8;  // per rank, per micro-batch
  int64_t grad_accum = 1;
  int64_t epochs = 1;
  int64_t max_steps = -1;  // > 0 overrides epochs
  bool shuffle = true;
  bool group_by_length = false;  // batches of similar lengths (see data::SamplerOptions)
  int64_t pack_len = 0;          // > 0: training samples are packed into rows of this many tokens
};

struct StepStats {
  int64_t step = 0;  // steps done after this one
  double loss = 0, lr = 0, grad_norm = 0, seconds = 0;
  bool overflow = false;  // fp16: the loss scale overflowed and the update was skipped
  double loss_scale = 1;
  int64_t tokens = 0, label_tokens = 0;  // this rank's
  int64_t padded_tokens = 0;             // this rank's batch positions, padding included
  int64_t global_label_tokens = 0;       // of the accumulated batch across all ranks (the loss divisor)
  int64_t epoch = 0;
};

struct EvalStats {
  double loss = 0, perplexity = 0;
  int64_t label_tokens = 0;
};

class SftTrainer {
 public:
  SftTrainer(std::shared_ptr<model::Model> m, std::vector<data::Example> train,
             std::vector<data::Example> eval, const TrainerOptions& o);

  // Connects the ranks of a data-parallel run (see rank_sync.h); needed when world_size > 1.
  void set_rank_sync(std::shared_ptr<RankSync> sync) { state_->set_rank_sync(std::move(sync)); }
  StepStats step();
  EvalStats evaluate();
  // Writes <output>/checkpoint-<step> atomically, points <output>/latest at it, prunes old ones.
  // `callbacks`: state of the Lua loop (early stopping, best model), stored as trainer_state "callbacks".
  std::string save_checkpoint(const nlohmann::json& callbacks = nullptr);
  // Restores from <output>/latest when present; returns the step resumed at (0 when nothing was there).
  int64_t resume();
  // Restores a given checkpoint folder.
  void load_checkpoint(const std::string& dir);
  // The "callbacks" state of the checkpoint restored last (null when none).
  const nlohmann::json& resumed_callbacks() const { return callbacks_; }
  TrainState& state() { return *state_; }

  // Loss of one micro-batch: sum of token cross-entropies (labels shifted inside) and the label count.
  std::pair<at::Tensor, int64_t> batch_loss_sum(const data::Batch& b);

  int64_t global_step() const { return state_->step(); }
  int64_t total_steps() const { return state_->total_steps(); }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  double current_lr() const { return state_->lr(); }
  bool done() const { return state_->done(); }
  const TrainerOptions& options() const { return opt_; }
  const Optimizer& optimizer() const { return state_->optimizer(); }

 private:
  data::Batch micro_batch(int64_t index) const;

  std::shared_ptr<model::Model> m_;
  std::vector<data::Example> train_, eval_;
  TrainerOptions opt_;
  data::Sampler sampler_;
  int64_t steps_per_epoch_ = 1;
  std::unique_ptr<TrainState> state_;
  nlohmann::json callbacks_;
};

}  // namespace ft::train
