// Autoregressive generation with a KV cache: batched prompts (left padding), greedy or sampled tokens,
// stop on EOS ids, stop strings, max_new_tokens or a streaming callback; finished rows leave the running
// batch. Groups (GRPO rollouts): G samples per prompt, the prompt prefilled once and its cache shared.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "model/sampling.h"
#include "model/transformer.h"
#include "text/tokenizer.h"

namespace ft::model {

struct GenerateOptions {
  int64_t max_new_tokens = 64;
  SamplingParams sampling;  // temperature 1.0 samples; temperature 0 is greedy
  // Tokens that end a sequence (included in its ids). Unset: the model config's eos ids and the
  // tokenizer's eos. An empty list disables EOS stopping.
  std::optional<std::vector<text::TokenId>> eos_ids;
  // A sequence ends when its generated text contains one of these; its text is cut before the match.
  std::vector<std::string> stop;
  // Seed of the per-call generator: the same seed gives the same samples. Unset: a random seed.
  std::optional<uint64_t> seed;
  // Called once per new token of each running sequence (seq = prompt index). Returning false ends that
  // sequence (finish reason "callback").
  std::function<bool(int seq, text::TokenId token)> stream;
  bool skip_special_tokens = true;  // for the returned text
};

// Work done by one generation call (for benchmarks and tests).
struct GenerateStats {
  int64_t prefill_rows = 0, prefill_positions = 0;  // rows prefilled, and rows x padded prompt length
  int64_t decode_steps = 0, decode_rows = 0;        // decode forwards, and the running rows summed over them
  double prefill_seconds = 0, decode_seconds = 0;
};

struct GenerateResult {
  std::vector<std::vector<text::TokenId>> ids;  // generated tokens per sequence (prompt excluded)
  std::vector<std::string> text;                // decoded generated text ("" without a tokenizer)
  std::vector<std::string> finish_reason;       // "eos", "stop", "length" or "callback"
  GenerateStats stats;
};

// Generates continuations of `prompts` (token ids; each non-empty). `tok` may be null (then no text
// and no stop strings).
GenerateResult generate(CausalLM& lm, const text::Tokenizer* tok,
                        const std::vector<std::vector<text::TokenId>>& prompts, const GenerateOptions& opt);

// G sequences per prompt: result row p*G + i is sample i of prompt p (the stream callback gets that row
// index). share_prefix: each prompt is prefilled once and its KV cache rows repeated G times; false: the
// G copies are prefilled separately (same tokens under greedy decoding, G times the prefill work).
GenerateResult generate_groups(CausalLM& lm, const text::Tokenizer* tok,
                               const std::vector<std::vector<text::TokenId>>& prompts, int64_t G,
                               bool share_prefix, const GenerateOptions& opt);

// Left-pads prompts into input_ids / attention_mask [B, Tmax] (int64, on `device`).
std::pair<at::Tensor, at::Tensor> left_pad(const std::vector<std::vector<text::TokenId>>& prompts,
                                           text::TokenId pad_id, c10::Device device);

}  // namespace ft::model
