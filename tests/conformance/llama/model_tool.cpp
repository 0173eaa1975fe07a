// Test/bench driver for the GGUF conformance check and the generation benchmark: builds a random model
// from key=value options (as ft.new would), optionally exports it to GGUF, then either greedy-decodes
// from prompt ids (printing JSON tokens + fthost's probability of each) or times generation.
//   model_tool arch=llama hidden=64 layers=2 heads=4 kv_heads=2 vocab=300 tie=0 seed=1 init_std=0.3
//              gguf=/tmp/m.gguf type=f32 prompt=256,1,2 n=48
//   model_tool ... bench=1 batch=8 n=64 threads=2      -> {"batch":8,"tokens":512,"seconds":..,"tok_s":..}
//   model_tool ... tokenizer=<dir with tokenizer.json> text=<string> gguf=...
//     the model takes that tokenizer (vocab grown to cover it) and its GGUF carries the BPE metadata;
//     "encoded" in the output holds fthost's ids for `text` (no special tokens).
//   model_tool ... lora=<r> lora_targets=all-linear|q_proj,v_proj,... lora_std=0.3 gguf=...
//     attaches LoRA adapters (alpha = 2r) with B ~ N(0, lora_std) from the seed; "tokens" are decoded
//     with the adapters active (unmerged) and "base_tokens" with them disabled; the GGUF is written after
//     merging (W += s B A), so llama.cpp runs the merged weights.
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "core/error.h"
#include "model/model.h"
#include "train/lora.h"

using namespace ft::model;

int main(int argc, char** argv) try {
  std::map<std::string, std::string> kv;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto eq = a.find('=');
    if (eq == std::string::npos) throw ft::Error("argument '" + a + "' is not key=value");
    kv[a.substr(0, eq)] = a.substr(eq + 1);
  }
  auto get = [&](const std::string& k, const std::string& d) { return kv.count(k) ? kv[k] : d; };
  auto geti = [&](const std::string& k, int64_t d) { return kv.count(k) ? std::stoll(kv[k]) : d; };
  NewModelOptions o;
  o.arch = get("arch", "qwen2");
  o.hidden = geti("hidden", 64);
  o.layers = geti("layers", 2);
  o.heads = geti("heads", 4);
  o.kv_heads = geti("kv_heads", 0);
  o.vocab = geti("vocab", 0);
  o.intermediate = geti("intermediate", 0);
  if (kv.count("tie")) o.tie = geti("tie", 0) != 0;
  o.seed = static_cast<uint64_t>(geti("seed", 0));
  o.init_std = std::stod(get("init_std", "0.02"));
  if (kv.count("rope_theta")) o.rope_theta = std::stod(kv["rope_theta"]);
  if (kv.count("llama3_factor")) {  // llama3 rope scaling with a short original context
    o.rope_scaling.type = "llama3";
    o.rope_scaling.factor = std::stod(kv["llama3_factor"]);
    o.rope_scaling.original_max_position_embeddings = geti("llama3_original_max", 64);
  }
  const int threads = static_cast<int>(geti("threads", 0));
  if (threads > 0) {
    at::set_num_threads(threads);
    at::set_num_interop_threads(1);
  }
  std::shared_ptr<ft::text::Tokenizer> tok;
  if (kv.count("tokenizer")) {
    tok = ft::text::load_tokenizer(kv["tokenizer"]);
    o.vocab = std::max<int64_t>(o.vocab, tok->vocab_size());
  }
  auto m = Model::create(o);
  if (tok) {
    m->tokenizer = tok;
    m->source_dir = kv["tokenizer"];
  }
  const bool lora = kv.count("lora") > 0;
  if (lora) {
    ft::train::LoraConfig lc;
    lc.r = geti("lora", 8);
    lc.alpha = 2.0 * static_cast<double>(lc.r);
    lc.seed = o.seed;
    const std::string targets = get("lora_targets", "all-linear");
    lc.all_linear = targets == "all-linear";
    lc.targets.clear();
    std::stringstream ts(targets);
    for (std::string t; !lc.all_linear && std::getline(ts, t, ',');) lc.targets.push_back(t);
    auto adapters = ft::train::apply_lora(*m, lc);
    at::Generator gen = at::detail::createCPUGenerator(o.seed + 1000);
    torch::NoGradGuard ng;
    for (auto& a : adapters) a.adapter->lora_B.normal_(0, std::stod(get("lora_std", "0.3")), gen);
  }
  const std::string gguf = get("gguf", "");
  const auto gguf_type = ft::io::parse_gguf_type(get("type", "f32"));
  if (!gguf.empty() && !lora) m->export_gguf(gguf, gguf_type);

  const int64_t n = geti("n", 48);
  if (geti("bench", 0)) {
    const int64_t batch = geti("batch", 1), plen = geti("prompt_len", 16);
    std::vector<std::vector<int32_t>> prompts(batch);
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t t = 0; t < plen; ++t) prompts[b].push_back(static_cast<int32_t>((b * 31 + t * 7) % 256));
    GenerateOptions g;
    g.max_new_tokens = n;
    g.sampling.temperature = 0;
    g.eos_ids = std::vector<int32_t>{};
    m->generate_ids(prompts, g);  // warm-up
    auto t0 = std::chrono::steady_clock::now();
    auto r = m->generate_ids(prompts, g);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    int64_t total = 0;
    for (auto& ids : r.ids) total += static_cast<int64_t>(ids.size());
    std::printf("{\"batch\":%lld,\"tokens\":%lld,\"seconds\":%.4f,\"tok_s\":%.2f,\"params\":%lld}\n",
                static_cast<long long>(batch), static_cast<long long>(total), s, total / s,
                static_cast<long long>(m->num_params()));
    return 0;
  }

  // Greedy decode with full-distribution probabilities of each chosen token.
  std::vector<int64_t> prompt;
  std::stringstream ps(get("prompt", "256"));
  for (std::string tok; std::getline(ps, tok, ',');) prompt.push_back(std::stoll(tok));
  struct Decoded {
    std::string tokens, probs, margins;
  };
  auto decode = [&]() {
    torch::NoGradGuard ng;
    KVCache cache(m->config().num_hidden_layers);
    ForwardInput in;
    in.input_ids = at::tensor(prompt, at::kLong).view({1, -1});
    in.cache = &cache;
    in.last_logits_only = true;
    std::ostringstream toks, probs, margins;
    for (int64_t i = 0; i < n; ++i) {
      auto logits = m->forward(in).reshape({-1}).to(at::kFloat);
      auto p = logits.softmax(-1);
      auto top = p.topk(2);
      int64_t t = std::get<1>(top)[0].item<int64_t>();
      float pt = std::get<0>(top)[0].item<float>(), p2 = std::get<0>(top)[1].item<float>();
      toks << (i ? "," : "") << t;
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s%.7g", i ? "," : "", pt);
      probs << buf;
      std::snprintf(buf, sizeof buf, "%s%.7g", i ? "," : "", pt - p2);
      margins << buf;
      in.input_ids = at::tensor(std::vector<int64_t>{t}, at::kLong).view({1, 1});
    }
    return Decoded{toks.str(), probs.str(), margins.str()};
  };
  const Decoded ours = decode();
  std::string base_tokens;
  if (lora) {
    ft::train::set_lora_enabled(*m, false);
    base_tokens = decode().tokens;
    ft::train::set_lora_enabled(*m, true);
    ft::train::merge_lora(*m);  // the exported weights carry the adapters
    if (!gguf.empty()) m->export_gguf(gguf, gguf_type);
  }
  std::ostringstream enc;
  if (tok && kv.count("text")) {
    auto ids = tok->encode(kv["text"], false).ids;
    for (size_t i = 0; i < ids.size(); ++i) enc << (i ? "," : "") << ids[i];
  }
  std::cout << "{\"tokens\":[" << ours.tokens << "],\"probs\":[" << ours.probs << "],\"margins\":["
            << ours.margins << "],\"encoded\":[" << enc.str() << "],\"base_tokens\":[" << base_tokens
            << "]}\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "model_tool: " << e.what() << "\n";
  return 1;
}
