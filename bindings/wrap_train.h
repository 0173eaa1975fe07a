// Shared by wrap_train.cpp (SFT) and wrap_grpo.cpp: the optimization options every trainer takes.
#pragma once

#include <lua.hpp>

#include "train/train_state.h"

namespace ft::lua {

// Fields of the table at idx into `o` (unset fields keep o's values): lr, schedule, warmup_steps,
// warmup_ratio, min_lr_ratio, max_grad_norm, optimizer, beta1, beta2, eps, weight_decay, momentum, dampening,
// nesterov, relative_step, scale_parameter, warmup_init, decay_rate, clip_threshold, precision,
// gradient_checkpointing, seed, rank, world_size, output, save_total_limit. beta1 absent: Adafactor without
// a first moment (AdamW keeps its default).
void check_step_options(lua_State* L, int idx, train::StepOptions& o);

}  // namespace ft::lua
