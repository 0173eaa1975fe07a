// What every trainer (SFT, GRPO) shares: the trainable parameters, the optimizer that owns their state,
// the LR schedule, precision (fp32; bf16/fp16 weights with fp32 masters, fp16 loss scaling), activation
// checkpointing, backward + gradient clipping + the optimizer update (NaN/inf steps skipped), and atomic
// checkpoints with exact resume (parameters, optimizer, RNG, step, plus whatever state the trainer adds).
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "model/model.h"
#include "train/mixed_precision.h"
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
  AdafactorOptions adafactor;
  SgdOptions sgd;
  std::string optimizer = "adamw";  // see make_optimizer
  // "auto" (the model's dtype) | "fp32" | "bf16" | "fp16". bf16/fp16 cast the model to that dtype and keep
  // fp32 master weights of the trainable parameters in the optimizer; fp16 adds dynamic loss scaling.
  std::string precision = "auto";
  LossScalerOptions loss_scaler;
  bool gradient_checkpointing = false;  // recompute each transformer block in backward
  uint64_t seed = 0;
  int rank = 0, world_size = 1;  // world_size > 1 needs set_rank_sync() before the first step
  std::string output;            // checkpoints go to <output>/checkpoint-<step>; "" = no checkpoints
  int64_t save_total_limit = 2;  // checkpoints kept (<= 0: all)
};

struct UpdateStats {
  double grad_norm = 0, lr = 0;
  bool applied = false;   // false: the gradients were NaN/inf and the update was skipped
  bool overflow = false;  // fp16: skipped because of the loss scale (the scaler adjusts; not an error)
  double loss_scale = 1;  // the scale this step's gradients were computed with
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
  // Backpropagates one (micro-batch) loss into the parameters' gradients (times the fp16 loss scale).
  void backward(const at::Tensor& loss);
  // Sums the gradients across ranks (with a RankSync), clips, applies the optimizer update with the scheduled
  // LR when the gradient norm is finite, clears the gradients and counts the step (a skipped update still
  // counts). With fp32 masters the sum, norm, clipping and update happen on the masters, which are then
  // cast back into the model.
  UpdateStats update();
  void zero_grad();

  int64_t step() const { return step_; }
  int64_t total_steps() const { return opt_.schedule.total_steps; }
  double lr() const { return opt_.schedule.lr_at(step_); }
  bool done() const { return step_ >= total_steps(); }
  const StepOptions& options() const { return opt_; }
  const NamedTensors& params() const { return params_; }
  const Optimizer& optimizer() const { return *optim_; }
  const std::string& precision() const { return precision_; }  // resolved: fp32 | bf16 | fp16
  double loss_scale() const { return mixed_ ? mixed_->loss_scale() : 1.0; }
  model::Model& model() { return *m_; }

  // Writes <output>/checkpoint-<step> atomically (temp folder, fsync, rename), points <output>/latest at it
  // and prunes old ones. `extra` is merged into trainer_state.json, `tensors` saved as "extra.<name>".
  std::string save(const nlohmann::json& extra = {}, const NamedTensors& tensors = {});
  // Restores parameters, optimizer, RNG and step from a checkpoint folder; returns its trainer_state.json
  // and fills `tensors` (when given) with the trainer's "extra." tensors, prefix removed.
  nlohmann::json load(const std::string& dir, std::map<std::string, at::Tensor>* tensors = nullptr);
  // Restores only the trainable parameters of a checkpoint folder (load_best_model_at_end).
  void load_weights(const std::string& dir);
  // Pruning of old checkpoints never removes checkpoint-<step> (the best model's); -1: none.
  void keep_checkpoint(int64_t step) { keep_step_ = step; }

 private:
  std::shared_ptr<model::Model> m_;
  StepOptions opt_;
  NamedTensors params_;
  std::string precision_;
  std::unique_ptr<MixedPrecision> mixed_;  // null in fp32
  std::unique_ptr<Optimizer> optim_;
  std::shared_ptr<RankSync> sync_;
  int64_t step_ = 0;
  int64_t keep_step_ = -1;

  void load_params(const std::string& dir, const std::map<std::string, at::Tensor>& state);
};

// Makes SIGTERM request an interrupt (ft::interrupt_requested()) like Ctrl-C, so a training loop can save
// a checkpoint and stop. Idempotent.
void install_sigterm_handler();

// The checkpoint folder <output>/latest points at ("" when none).
std::string latest_checkpoint(const std::string& output);

}  // namespace ft::train
