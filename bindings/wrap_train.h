// Shared by wrap_train.cpp (SFT) and wrap_grpo.cpp: the optimization options every trainer takes.
#pragma once

#include <lua.hpp>

#include "train/train_state.h"

namespace ft::lua {

// Fields lr, schedule, warmup_steps, warmup_ratio, min_lr_ratio, max_grad_norm, beta1, beta2, eps,
// weight_decay, optimizer, seed, rank, world_size, output, save_total_limit of the table at idx (absent
// fields keep o's values; warmup_steps, warmup_ratio, min_lr_ratio and seed default to 0).
void check_step_options(lua_State* L, int idx, train::StepOptions& o);

}  // namespace ft::lua
