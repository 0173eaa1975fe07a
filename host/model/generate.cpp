// The generation loop: one prefill over the left-padded batch, then one token per step for every row
// until each row has finished (finished rows keep decoding padding that is thrown away).
#include "model/generate.h"

#include <algorithm>
#include <random>

#include "core/error.h"
#include "core/interrupt.h"

namespace ft::model {

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
  const ModelConfig& cfg = lm->config;
  if (prompts.empty()) throw Error("generate: no prompts given");
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

  const int B = static_cast<int>(prompts.size());
  GenerateResult res;
  res.ids.resize(B);
  res.text.resize(B);
  res.finish_reason.assign(B, "length");
  std::vector<bool> done(B, false);
  std::vector<std::vector<text::TokenId>> seen = prompts;  // for the repetition penalty
  std::vector<size_t> stop_cut(B, std::string::npos);

  torch::NoGradGuard no_grad;
  const auto device = lm->model->embed_tokens->weight.device();
  const text::TokenId pad = cfg.pad_token_id ? static_cast<text::TokenId>(*cfg.pad_token_id) : 0;
  auto [ids, mask] = left_pad(prompts, pad, device);
  KVCache cache(cfg.num_hidden_layers);
  ForwardInput in;
  in.input_ids = ids;
  in.attention_mask = mask;
  in.cache = &cache;
  in.last_logits_only = true;

  int running = B;
  for (int64_t step = 0; step < opt.max_new_tokens && running > 0; ++step) {
    check_interrupt();
    auto logits = lm->forward(in).select(1, 0).to(at::kCPU, at::kFloat).contiguous();
    if (step == 0) cache.reserve(cache.length + opt.max_new_tokens);
    apply_repetition_penalty(logits, seen, opt.sampling.repetition_penalty);
    auto next = select_tokens(logits, opt.sampling, gen);
    auto na = next.accessor<int64_t, 1>();
    std::vector<int64_t> feed(B, pad);
    for (int b = 0; b < B; ++b) {
      if (done[b]) continue;
      const auto t = static_cast<text::TokenId>(na[b]);
      feed[b] = t;
      res.ids[b].push_back(t);
      seen[b].push_back(t);
      std::string reason;
      if (opt.stream && !opt.stream(b, t)) reason = "callback";
      if (reason.empty() && is_eos(t)) reason = "eos";
      if (reason.empty() && !opt.stop.empty()) {
        std::string text = tok->decode(res.ids[b], opt.skip_special_tokens);
        for (const auto& s : opt.stop) {
          size_t at = s.empty() ? std::string::npos : text.find(s);
          if (at != std::string::npos && at < stop_cut[b]) stop_cut[b] = at;
        }
        if (stop_cut[b] != std::string::npos) reason = "stop";
      }
      if (!reason.empty()) {
        done[b] = true;
        res.finish_reason[b] = reason;
        --running;
      }
    }
    in.input_ids = at::tensor(feed, at::kLong).view({B, 1}).to(device);
    in.attention_mask = at::Tensor();
    in.position_ids = at::Tensor();
  }
  if (tok) {
    for (int b = 0; b < B; ++b) {
      res.text[b] = tok->decode(res.ids[b], opt.skip_special_tokens);
      if (stop_cut[b] != std::string::npos) res.text[b].resize(stop_cut[b]);
    }
  }
  return res;
}

}  // namespace ft::model
