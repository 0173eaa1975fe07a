// LR schedule factors (see schedule.h).
#include "train/schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace ft::train {

void check_schedule(const Schedule& s) {
  if (s.kind != "constant" && s.kind != "linear" && s.kind != "cosine")
    throw Error("unknown schedule '" + s.kind + "' (expected constant, linear or cosine)");
  if (s.warmup_steps < 0) throw Error("warmup must be >= 0");
}

double Schedule::lr_at(int64_t step) const {
  if (step < warmup_steps) return lr * static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_steps));
  if (kind == "constant") return lr;
  const double span = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
  double f = kind == "linear" ? 1.0 - progress : 0.5 * (1.0 + std::cos(M_PI * progress));
  return lr * (min_lr_ratio + (1.0 - min_lr_ratio) * std::max(0.0, f));
}

}  // namespace ft::train
