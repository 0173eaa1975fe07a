// What every trainer (SFT, GRPO) shares: the trainable parameters, the optimizer that owns their state,
// the LR schedule, backward + gradient clipping + the optimizer update (NaN/inf steps skipped), and atomic
// checkpoints with exact resume (parameters, optimizer, RNG, step, plus whatever state the trainer adds).
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "model/model.h"
#include "train/optimizer.h"
#include "train/rank_sync.h"
#include "train/schedule.h"

namespace ft::train {

// Options of the optimization itself, common to all trainers.
struct StepOptions {
  Schedule schedule;           // lr, kind, warmup (total_steps is filled in by the trainer)
  double warmup_ratio = 0;     // used when schedule.warmup_steps == 0
  double max_grad_norm = 1.0;  // <= 0: no clipping
  AdamWOptions adamw;
  std::string optimizer = "adamw";
  uint64_t seed = 0;
  int rank = 0, world_size = 1;  // world_size > 1 needs set_rank_sync() before the first step
  std::string output;            // checkpoints go to <output>/checkpoint-<step>; "" = no checkpoints
  int64_t save_total_limit = 2;  // checkpoints kept (<= 0: all)
};

struct UpdateStats {
  double grad_norm = 0, lr = 0;
  bool applied = false;  // false: the gradients were NaN/inf and the update was skipped
};

class TrainState {
 public:
  // Collects the parameters that require grad, builds the optimizer, and fixes the schedule's length.
  TrainState(std::shared_ptr<model::Model> m, const StepOptions& o, int64_t total_steps);

  // Connects the ranks of a data-parallel run (rank_sync.h): update() then sums the ranks' gradients.
  void set_rank_sync(std::shared_ptr<RankSync> sync) { sync_ = std::move(sync); }
  // Element-wise sum over all ranks (identity for world_size 1), e.g. label tokens, so every rank
  // divides its loss by the count of the whole accumulated batch. world_size > 1 without a RankSync
  // is an error, never a silent per-rank normalisation.
  void sum_across_ranks(std::vector<double>& values);
  // Backpropagates one (micro-batch) loss into the parameters' gradients.
  void backward(const at::Tensor& loss);
  // Sums the gradients across ranks (with a RankSync), clips, applies the optimizer update with the scheduled
  // LR when the gradient norm is finite, clears the gradients and counts the step (a skipped update still
  // counts).
  UpdateStats update();
  void zero_grad() { optim_->zero_grad(); }

  int64_t step() const { return step_; }
  int64_t total_steps() const { return opt_.schedule.total_steps; }
  double lr() const { return opt_.schedule.lr_at(step_); }
  bool done() const { return step_ >= total_steps(); }
  const StepOptions& options() const { return opt_; }
  const NamedTensors& params() const { return params_; }
  const Optimizer& optimizer() const { return *optim_; }
  model::Model& model() { return *m_; }

  // Writes <output>/checkpoint-<step> atomically (temp folder, fsync, rename), points <output>/latest at it
  // and prunes old ones. `extra` is merged into trainer_state.json, `tensors` saved as "extra.<name>".
  std::string save(const nlohmann::json& extra = {}, const NamedTensors& tensors = {});
  // Restores parameters, optimizer, RNG and step from a checkpoint folder; returns its trainer_state.json
  // and fills `tensors` (when given) with the trainer's "extra." tensors, prefix removed.
  nlohmann::json load(const std::string& dir, std::map<std::string, at::Tensor>* tensors = nullptr);

 private:
  std::shared_ptr<model::Model> m_;
  StepOptions opt_;
  NamedTensors params_;
  std::unique_ptr<Optimizer> optim_;
  std::shared_ptr<RankSync> sync_;
  int64_t step_ = 0;
};

// Makes SIGTERM request an interrupt (ft::interrupt_requested()) like Ctrl-C, so a training loop can save
// a checkpoint and stop. Idempotent.
void install_sigterm_handler();

// The checkpoint folder <output>/latest points at ("" when none).
std::string latest_checkpoint(const std::string& output);

}  // namespace ft::train
