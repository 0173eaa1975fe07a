// Learning-rate schedules with linear warmup, as transformers' get_*_schedule_with_warmup: the factor
// for optimizer step s (0-based, the step about to be taken) is s / warmup during warmup, then
// constant 1, linear decay to 0 at total_steps, or a half cosine to 0 (floored at min_lr_ratio).
#pragma once

#include <cstdint>
#include <string>

namespace ft::train {

struct Schedule {
  std::string kind = "linear";  // "constant" | "linear" | "cosine"
  double lr = 2e-4;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double min_lr_ratio = 0.0;

  double lr_at(int64_t step) const;
};

// Throws ft::Error for an unknown kind.
void check_schedule(const Schedule& s);

}  // namespace ft::train
