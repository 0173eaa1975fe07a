// Dynamic loss scaling for fp16 training, with DeepSpeed's semantics (runtime/fp16/loss_scaler.py): the
// loss is multiplied by the scale before backward; a step whose gradients overflow (inf/NaN) is skipped;
// an overflow first uses up the hysteresis, then halves the scale (not below min_scale; an overflow at the
// minimum is an error); after scale_window clean steps since the last overflow the scale doubles and the
// hysteresis is refilled. The state round-trips through JSON for exact resume.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

namespace ft::train {

struct LossScalerOptions {
  double initial_scale = 65536.0;  // 2^16 (DeepSpeed initial_scale_power 16)
  int64_t scale_window = 1000;
  int hysteresis = 2;
  double min_scale = 1.0;
  bool consecutive_hysteresis = false;  // true: a clean step refills the hysteresis
};

class LossScaler {
 public:
  explicit LossScaler(const LossScalerOptions& o = {});

  double scale() const { return scale_; }
  // Records the outcome of one optimizer step (overflow: it was skipped). Throws ft::Error on an overflow
  // at min_scale.
  void update(bool overflow);
  int64_t overflows() const { return overflows_; }  // steps skipped so far
  int hysteresis_left() const { return hysteresis_; }

  nlohmann::json state() const;
  void load_state(const nlohmann::json& st);  // throws ft::Error naming a missing or malformed field

 private:
  LossScalerOptions o_;
  double scale_;
  int64_t iter_ = 0, last_overflow_ = -1, overflows_ = 0;
  int hysteresis_;
};

}  // namespace ft::train
