// Dynamic loss scale bookkeeping (see loss_scaler.h).
#include "train/loss_scaler.h"

#include <algorithm>

#include "core/error.h"

namespace ft::train {

LossScaler::LossScaler(const LossScalerOptions& o)
    : o_(o), scale_(o.initial_scale), hysteresis_(o.hysteresis) {
  if (!(o.initial_scale > 0) || !(o.min_scale > 0) || o.scale_window < 1 || o.hysteresis < 1)
    throw Error("loss scaler: initial_scale and min_scale must be > 0, scale_window and hysteresis >= 1");
}

void LossScaler::update(bool overflow) {
  if (overflow) {
    ++overflows_;
    if (o_.hysteresis == 1 || hysteresis_ == 1) {
      if (scale_ <= o_.min_scale)
        throw Error(
            "fp16: the gradients overflowed (inf/NaN) at the minimum loss scale " +
                std::to_string(o_.min_scale) + " after " + std::to_string(overflows_) + " skipped steps",
            "the loss itself is not finite in fp16: lower lr, check the data, or use precision = \"bf16\"");
      scale_ = std::max(scale_ / 2.0, o_.min_scale);
    } else {
      --hysteresis_;
    }
    last_overflow_ = iter_;
  } else {
    if (o_.consecutive_hysteresis) hysteresis_ = o_.hysteresis;
    const int64_t stable = iter_ - last_overflow_ - 1;
    if (stable > 0 && stable % o_.scale_window == 0) {
      if (!o_.consecutive_hysteresis) hysteresis_ = o_.hysteresis;
      scale_ *= 2.0;
    }
  }
  ++iter_;
}

nlohmann::json LossScaler::state() const {
  return {{"scale", scale_},
          {"iter", iter_},
          {"last_overflow_iter", last_overflow_},
          {"hysteresis", hysteresis_},
          {"overflows", overflows_}};
}

void LossScaler::load_state(const nlohmann::json& st) {
  try {
    scale_ = st.at("scale").get<double>();
    iter_ = st.at("iter").get<int64_t>();
    last_overflow_ = st.at("last_overflow_iter").get<int64_t>();
    hysteresis_ = st.at("hysteresis").get<int>();
    overflows_ = st.at("overflows").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("trainer_state.json: malformed 'loss_scaler' (") + e.what() + ")",
                "expected {scale, iter, last_overflow_iter, hysteresis, overflows}");
  }
}

}  // namespace ft::train
