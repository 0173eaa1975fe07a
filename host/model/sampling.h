// Next-token selection from logits: repetition penalty, temperature, top-k, top-p, min-p (in the order
// Hugging Face applies them), then greedy argmax or a draw from a seeded generator.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "text/tokenizer.h"

namespace ft::model {

struct SamplingParams {
  double temperature = 1.0;         // <= 0: greedy (argmax)
  int64_t top_k = 0;                // 0: off
  double top_p = 1.0;               // 1: off
  double min_p = 0.0;               // 0: off
  double repetition_penalty = 1.0;  // 1: off
};

// HF RepetitionPenaltyLogitsProcessor: for every token id in seen[b], a positive logit is divided by
// `penalty`, a negative one multiplied. logits [B, V] float, modified in place.
void apply_repetition_penalty(at::Tensor& logits, const std::vector<std::vector<text::TokenId>>& seen,
                              double penalty);
// The filters return logits with removed entries set to -inf; at least one token always survives.
at::Tensor filter_top_k(const at::Tensor& logits, int64_t k);
// Keeps the smallest set of most likely tokens whose probability reaches p (HF TopPLogitsWarper).
at::Tensor filter_top_p(const at::Tensor& logits, double p);
// Keeps tokens whose probability is >= min_p * (the top probability) (HF MinPLogitsWarper).
at::Tensor filter_min_p(const at::Tensor& logits, double min_p);

// Picks one token per row of logits [B, V] (any device, any float dtype). Sampling runs on CPU in
// float32 with `gen`, so a seed gives the same tokens on every device.
at::Tensor select_tokens(const at::Tensor& logits, const SamplingParams& p, at::Generator& gen);

}  // namespace ft::model
