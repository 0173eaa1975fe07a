// The generation loop: one prefill over the left-padded prompts (repeated G times for groups, or
// prefilled once and the cache rows repeated), then one token per step for every running row; a row that
// finishes leaves the batch (its cache rows are dropped), so later steps only pay for running rows.
#include "model/generate.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "core/error.h"
#include "core/interrupt.h"

namespace ft::model {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

std::pair<at::Tensor, at::Tensor> left_pad(const std::vector<std::vector<text::TokenId>>& prompts,
                                           text::TokenId pad_id, c10::Device device) {
  const int64_t B = static_cast<int64_t>(prompts.size());
  int64_t T = 0;
  for (const auto& p : prompts) T = std::max<int64_t>(T, static_cast<int64_t>(p.size()));
  auto ids = at::full({B, T}, pad_id, at::kLong);
  auto mask = at::zeros({B, T}, at::kLong);
  auto ia = ids.accessor<int64_t, 2>();
  auto ma = mask.accessor<int64_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[b];
    const int64_t off = T - static_cast<int64_t>(p.size());
    for (size_t i = 0; i < p.size(); ++i) {
      ia[b][off + static_cast<int64_t>(i)] = p[i];
      ma[b][off + static_cast<int64_t>(i)] = 1;
    }
  }
  return {ids.to(device), mask.to(device)};
}

GenerateResult generate(CausalLM& lm, const text::Tokenizer* tok,
                        const std::vector<std::vector<text::TokenId>>& prompts, const GenerateOptions& opt) {
  return generate_groups(lm, tok, prompts, 1, true, opt);
}

GenerateResult generate_groups(CausalLM& lm, const text::Tokenizer* tok,
                               const std::vector<std::vector<text::TokenId>>& prompts, int64_t G,
                               bool share_prefix, const GenerateOptions& opt) {
  const ModelConfig& cfg = lm->config;
  if (prompts.empty()) throw Error("generate: no prompts given");
  if (G < 1)
    throw Error("generate: the number of sequences per prompt must be >= 1, found " + std::to_string(G));
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty())
      throw Error("generate: prompt " + std::to_string(i + 1) + " has no tokens",
                  "give at least one token (e.g. the BOS token) per prompt");
    for (auto t : prompts[i])
      if (t < 0 || t >= cfg.vocab_size)
        throw Error("generate: prompt " + std::to_string(i + 1) + " holds token id " + std::to_string(t) +
                    " outside the vocabulary [0, " + std::to_string(cfg.vocab_size) + ")");
  }
  if (opt.max_new_tokens < 0) throw Error("generate: max_new_tokens must be >= 0");
  if (!opt.stop.empty() && !tok)
    throw Error("generate: stop strings need a tokenizer to decode text, and this model has none");

  std::vector<text::TokenId> eos;
  if (opt.eos_ids) {
    eos = *opt.eos_ids;
  } else {
    for (auto e : cfg.eos_token_ids) eos.push_back(static_cast<text::TokenId>(e));
    if (tok && tok->eos_id) eos.push_back(*tok->eos_id);
  }
  auto is_eos = [&](text::TokenId t) { return std::find(eos.begin(), eos.end(), t) != eos.end(); };

  uint64_t seed = opt.seed ? *opt.seed : std::random_device{}();
  at::Generator gen = at::detail::createCPUGenerator(seed);

  const int64_t N = static_cast<int64_t>(prompts.size()) * G;  // sequences
  GenerateResult res;
  res.ids.resize(N);
  res.text.resize(N);
  res.finish_reason.assign(N, "length");
  std::vector<size_t> stop_cut(N, std::string::npos);
  if (opt.max_new_tokens == 0) return res;

  // Running rows: row r of the batch is sequence active[r]; seen[r] its prompt + generated ids (only
  // kept for the repetition penalty).
  std::vector<int64_t> active(N);
  for (int64_t i = 0; i < N; ++i) active[i] = i;
  const bool penalty = opt.sampling.repetition_penalty != 1.0;
  std::vector<std::vector<text::TokenId>> seen;
  if (penalty)
    for (int64_t i = 0; i < N; ++i) seen.push_back(prompts[i / G]);

  torch::NoGradGuard no_grad;
  const auto device = lm->model->embed_tokens->weight.device();
  const text::TokenId pad = cfg.pad_token_id ? static_cast<text::TokenId>(*cfg.pad_token_id) : 0;
  const bool repeat_after_prefill = share_prefix && G > 1;
  std::vector<std::vector<text::TokenId>> expanded;
  if (!repeat_after_prefill && G > 1)
    for (int64_t i = 0; i < N; ++i) expanded.push_back(prompts[i / G]);
  const auto& prefill_prompts = expanded.empty() ? prompts : expanded;

  auto t0 = std::chrono::steady_clock::now();
  auto [ids, mask] = left_pad(prefill_prompts, pad, device);
  KVCache cache(cfg.num_hidden_layers);
  ForwardInput in;
  in.input_ids = ids;
  in.attention_mask = mask;
  in.cache = &cache;
  in.last_logits_only = true;
  at::Tensor logits = lm->forward(in).select(1, 0).to(at::kCPU, at::kFloat).contiguous();
  cache.reserve(cache.length + opt.max_new_tokens);
  if (repeat_after_prefill) {
    cache = cache.repeat_rows(G);
    logits = logits.repeat_interleave(G, 0);
  }
  res.stats.prefill_rows = ids.size(0);
  res.stats.prefill_positions = ids.numel();
  res.stats.prefill_seconds = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();

  for (int64_t step = 0; step < opt.max_new_tokens; ++step) {
    check_interrupt();
    if (step > 0) {
      logits = lm->forward(in).select(1, 0).to(at::kCPU, at::kFloat).contiguous();
      ++res.stats.decode_steps;
      res.stats.decode_rows += static_cast<int64_t>(active.size());
    }
    if (penalty) apply_repetition_penalty(logits, seen, opt.sampling.repetition_penalty);
    auto next = select_tokens(logits, opt.sampling, gen);
    auto na = next.accessor<int64_t, 1>();
    std::vector<int64_t> keep, feed;
    for (size_t r = 0; r < active.size(); ++r) {
      const int64_t b = active[r];
      const auto t = static_cast<text::TokenId>(na[static_cast<int64_t>(r)]);
      res.ids[b].push_back(t);
      if (penalty) seen[r].push_back(t);
      std::string reason;
      if (opt.stream && !opt.stream(static_cast<int>(b), t)) reason = "callback";
      if (reason.empty() && is_eos(t)) reason = "eos";
      if (reason.empty() && !opt.stop.empty()) {
        std::string text = tok->decode(res.ids[b], opt.skip_special_tokens);
        for (const auto& s : opt.stop) {
          size_t at = s.empty() ? std::string::npos : text.find(s);
          if (at != std::string::npos && at < stop_cut[b]) stop_cut[b] = at;
        }
        if (stop_cut[b] != std::string::npos) reason = "stop";
      }
      if (reason.empty()) {
        keep.push_back(static_cast<int64_t>(r));
        feed.push_back(t);
      } else {
        res.finish_reason[b] = reason;
      }
    }
    if (keep.empty() || step + 1 == opt.max_new_tokens) break;
    if (keep.size() != active.size()) {  // drop finished rows from the batch and the cache
      cache = cache.select_rows(at::tensor(keep, at::kLong));
      std::vector<int64_t> still;
      std::vector<std::vector<text::TokenId>> still_seen;
      for (int64_t r : keep) {
        still.push_back(active[r]);
        if (penalty) still_seen.push_back(std::move(seen[r]));
      }
      active = std::move(still);
      seen = std::move(still_seen);
    }
    in.input_ids = at::tensor(feed, at::kLong).view({static_cast<int64_t>(feed.size()), 1}).to(device);
    in.attention_mask = at::Tensor();
    in.position_ids = at::Tensor();
  }
  res.stats.decode_seconds = seconds_since(t0);
  if (tok) {
    for (int64_t b = 0; b < N; ++b) {
      res.text[b] = tok->decode(res.ids[b], opt.skip_special_tokens);
      if (stop_cut[b] != std::string::npos) res.text[b].resize(stop_cut[b]);
    }
  }
  return res;
}

}  // namespace ft::model
