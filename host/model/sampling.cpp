// Logit processors and the token draw used by generation.
#include "model/sampling.h"

#include <limits>

#include "core/error.h"

namespace ft::model {

namespace {
constexpr float kNegInf = -std::numeric_limits<float>::infinity();
}

void apply_repetition_penalty(at::Tensor& logits, const std::vector<std::vector<text::TokenId>>& seen,
                              double penalty) {
  if (penalty == 1.0) return;
  if (penalty <= 0) throw Error("repetition_penalty must be > 0, found " + std::to_string(penalty));
  auto acc = logits.accessor<float, 2>();
  const int64_t V = logits.size(1);
  for (size_t b = 0; b < seen.size(); ++b) {
    std::vector<bool> done(static_cast<size_t>(V), false);
    for (text::TokenId t : seen[b]) {
      if (t < 0 || t >= V || done[t]) continue;
      done[t] = true;
      float& x = acc[static_cast<int64_t>(b)][t];
      x = x < 0 ? static_cast<float>(x * penalty) : static_cast<float>(x / penalty);
    }
  }
}

at::Tensor filter_top_k(const at::Tensor& logits, int64_t k) {
  if (k <= 0 || k >= logits.size(-1)) return logits;
  auto kth = std::get<0>(logits.topk(k, -1)).narrow(-1, k - 1, 1);
  return logits.masked_fill(logits < kth, kNegInf);
}

at::Tensor filter_top_p(const at::Tensor& logits, double p) {
  if (p >= 1.0) return logits;
  if (p <= 0) throw Error("top_p must be in (0, 1], found " + std::to_string(p));
  auto sorted = logits.sort(-1, /*descending=*/false);
  auto& vals = std::get<0>(sorted);
  auto& idx = std::get<1>(sorted);
  auto cum = vals.softmax(-1).cumsum(-1);
  auto remove = cum <= (1.0 - p);
  remove.narrow(-1, remove.size(-1) - 1, 1).fill_(false);  // keep the most likely token
  auto mask = at::zeros_like(remove).scatter(-1, idx, remove);
  return logits.masked_fill(mask, kNegInf);
}

at::Tensor filter_min_p(const at::Tensor& logits, double min_p) {
  if (min_p <= 0.0) return logits;
  if (min_p > 1.0) throw Error("min_p must be in [0, 1], found " + std::to_string(min_p));
  auto probs = logits.softmax(-1);
  auto top = std::get<0>(probs.max(-1, true));
  return logits.masked_fill(probs < top * min_p, kNegInf);
}

at::Tensor select_tokens(const at::Tensor& logits, const SamplingParams& p, at::Generator& gen) {
  auto l = logits.to(at::kCPU, at::kFloat);
  if (p.temperature <= 0) return l.argmax(-1);
  l = l / p.temperature;
  l = filter_top_k(l, p.top_k);
  l = filter_top_p(l, p.top_p);
  l = filter_min_p(l, p.min_p);
  auto probs = l.softmax(-1);
  return at::multinomial(probs, 1, false, gen).squeeze(-1);
}

}  // namespace ft::model
