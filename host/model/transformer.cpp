// Transformer forward: masks and RoPE tables per call, then embedding -> blocks -> norm -> head.
// Attention: on CUDA with LibTorch >= 2 the fused scaled_dot_product_attention; otherwise (and on CPU) a
// grouped matmul path that never materialises repeated kv heads, with softmax in float32 as HF does.
#include "model/transformer.h"

#include <torch/version.h>

#include <cmath>

#include "core/error.h"
#include "model/activation_checkpoint.h"

namespace ft::model {

namespace {

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  return x * cos + rotate_half(x) * sin;
}

// Positions restart at 0 at every segment start: t - (index where the current segment began).
at::Tensor segment_positions(const at::Tensor& seg) {
  const int64_t T = seg.size(1);
  auto idx = at::arange(T, seg.options().dtype(at::kLong)).unsqueeze(0).expand_as(seg);
  auto starts = at::ones_like(seg, at::kBool);
  if (T > 1) starts.narrow(1, 1, T - 1).copy_(seg.narrow(1, 1, T - 1) != seg.narrow(1, 0, T - 1));
  auto marks = at::where(starts, idx, at::zeros_like(idx));
  return idx - std::get<0>(at::cummax(marks, 1));
}

at::Tensor attention_math(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          const at::Tensor& mask) {
  // q [B,H,T,D], k/v [B,KVH,S,D], mask bool [B,1,T,S]
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3);
  const int64_t KVH = k.size(1), S = k.size(2), G = H / KVH;
  const double scale = 1.0 / std::sqrt(static_cast<double>(D));
  auto qg = q.reshape({B, KVH, G * T, D});
  auto scores = at::matmul(qg, k.transpose(-1, -2)).mul_(scale).view({B, KVH, G, T, S}).to(at::kFloat);
  scores.masked_fill_(mask.logical_not().unsqueeze(2), -std::numeric_limits<float>::infinity());
  auto probs = at::softmax(scores, -1).to(q.scalar_type()).view({B, KVH, G * T, S});
  return at::matmul(probs, v).view({B, H, T, D});
}

}  // namespace

// ---- RMSNorm ---------------------------------------------------------------------------------------
RMSNormImpl::RMSNormImpl(int64_t dim, double eps) : eps(eps) {
  weight = register_parameter("weight", torch::ones({dim}));
}

at::Tensor RMSNormImpl::forward(const at::Tensor& x) {
  auto xf = x.to(at::kFloat);
  auto var = xf.pow(2).mean(-1, true);
  return weight * (xf * at::rsqrt(var + eps)).to(x.scalar_type());
}

// ---- attention -------------------------------------------------------------------------------------
AttentionImpl::AttentionImpl(const ModelConfig& c, int64_t layer_idx)
    : layer_idx(layer_idx),
      heads(c.num_attention_heads),
      kv_heads(c.num_key_value_heads),
      head_dim(c.head_dim),
      sliding(c.sliding_window > 0 && static_cast<size_t>(layer_idx) < c.layer_sliding.size() &&
              c.layer_sliding[layer_idx]) {
  q_proj = register_module("q_proj", Linear(c.hidden_size, heads * head_dim, c.qkv_bias()));
  k_proj = register_module("k_proj", Linear(c.hidden_size, kv_heads * head_dim, c.qkv_bias()));
  v_proj = register_module("v_proj", Linear(c.hidden_size, kv_heads * head_dim, c.qkv_bias()));
  o_proj = register_module("o_proj", Linear(heads * head_dim, c.hidden_size, c.o_bias()));
}

at::Tensor AttentionImpl::forward(const at::Tensor& x, const AttentionContext& ctx, KVCache* cache) {
  const int64_t B = x.size(0), T = x.size(1);
  auto q = q_proj(x).view({B, T, heads, head_dim}).transpose(1, 2);
  auto k = k_proj(x).view({B, T, kv_heads, head_dim}).transpose(1, 2);
  auto v = v_proj(x).view({B, T, kv_heads, head_dim}).transpose(1, 2);
  auto cos = ctx.cos.unsqueeze(1), sin = ctx.sin.unsqueeze(1);
  q = apply_rope(q, cos, sin);
  k = apply_rope(k, cos, sin);
  if (cache) std::tie(k, v) = cache->append(static_cast<size_t>(layer_idx), k, v);
  const at::Tensor& mask = sliding ? ctx.sliding_mask : ctx.mask;
  at::Tensor out;
#if TORCH_VERSION_MAJOR >= 2
  if (x.is_cuda()) {
    const int64_t G = heads / kv_heads;
    auto kr = G > 1 ? k.repeat_interleave(G, 1) : k;
    auto vr = G > 1 ? v.repeat_interleave(G, 1) : v;
    const bool causal = ctx.plain_causal && !sliding && k.size(2) == T;
    const c10::optional<at::Tensor> attn_mask = causal ? c10::nullopt : c10::optional<at::Tensor>(mask);
    out = at::scaled_dot_product_attention(q, kr, vr, attn_mask, 0.0, causal);
  } else {
    out = attention_math(q, k, v, mask);
  }
#else
  out = attention_math(q, k, v, mask);
#endif
  return o_proj(out.transpose(1, 2).reshape({B, T, heads * head_dim}));
}

// ---- MLP / block -----------------------------------------------------------------------------------
MLPImpl::MLPImpl(const ModelConfig& c) {
  gate_proj = register_module("gate_proj", Linear(c.hidden_size, c.intermediate_size, c.mlp_bias));
  up_proj = register_module("up_proj", Linear(c.hidden_size, c.intermediate_size, c.mlp_bias));
  down_proj = register_module("down_proj", Linear(c.intermediate_size, c.hidden_size, c.mlp_bias));
}

at::Tensor MLPImpl::forward(const at::Tensor& x) {
  return down_proj(at::silu(gate_proj(x)) * up_proj(x));
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c, int64_t layer_idx) {
  self_attn = register_module("self_attn", Attention(c, layer_idx));
  mlp = register_module("mlp", MLP(c));
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& x, const AttentionContext& ctx, KVCache* cache) {
  auto h = x + self_attn(input_layernorm(x), ctx, cache);
  return h + mlp(post_attention_layernorm(h));
}

DecoderImpl::DecoderImpl(const ModelConfig& c) {
  embed_tokens = register_module(
      "embed_tokens", torch::nn::Embedding(torch::nn::EmbeddingOptions(c.vocab_size, c.hidden_size)));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    blocks.emplace_back(c, i);
    layers->push_back(blocks.back());
  }
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

// ---- causal LM -------------------------------------------------------------------------------------
CausalLMImpl::CausalLMImpl(const ModelConfig& c) : config(c) {
  validate_config(c, "model config");
  model = register_module("model", Decoder(c));
  if (!c.tie_word_embeddings)
    lm_head = register_module("lm_head", Linear(c.hidden_size, c.vocab_size, false));
  inv_freq = rope_inv_freq(c);
}

at::Tensor CausalLMImpl::output_weight() {
  return lm_head ? lm_head->weight : model->embed_tokens->weight;
}

AttentionContext CausalLMImpl::attention_context(const ForwardInput& in, at::Tensor& positions,
                                                 at::Tensor& new_mask) {
  const auto& ids = in.input_ids;
  const int64_t B = ids.size(0), T = ids.size(1);
  const auto dev = ids.device();
  const auto lopt = at::TensorOptions().dtype(at::kLong).device(dev);
  KVCache* cache = in.cache;
  const int64_t past = cache ? cache->length : 0;
  if (cache && past > 0 && cache->batch() != B)
    throw Error("forward: the KV cache holds " + std::to_string(cache->batch()) + " rows but input_ids has " +
                    std::to_string(B),
                "use KVCache::repeat_rows/select_rows to match the batch");
  if (in.segment_ids.defined() && past > 0)
    throw Error("forward: segment_ids (packed sequences) cannot be combined with a non-empty KV cache");

  // Full [B, past+T] mask of real tokens.
  at::Tensor full;
  bool has_padding = false;
  if (in.attention_mask.defined()) {
    auto m = in.attention_mask.to(lopt);
    if (m.dim() != 2 || m.size(0) != B || (m.size(1) != past + T && m.size(1) != T))
      throw Error("forward: attention_mask must be [" + std::to_string(B) + ", " + std::to_string(past + T) +
                  "] (or [B, T] for the new tokens), found " + c10::str(m.sizes()));
    full = (m.size(1) == T && past > 0) ? at::cat({cache->attention_mask.to(lopt), m}, 1) : m;
    has_padding = !full.all().item<bool>();
  } else {
    auto ones = at::ones({B, T}, lopt);
    full = past > 0 ? at::cat({cache->attention_mask.to(lopt), ones}, 1) : ones;
    has_padding = past > 0 && !full.all().item<bool>();
  }
  new_mask = full.narrow(1, past, T);

  if (in.position_ids.defined()) {
    positions = in.position_ids.to(lopt);
    if (positions.sizes() != ids.sizes())
      throw Error("forward: position_ids must be shaped like input_ids " + c10::str(ids.sizes()) +
                  ", found " + c10::str(positions.sizes()));
  } else if (in.segment_ids.defined()) {
    positions = segment_positions(in.segment_ids.to(lopt));
  } else if (cache && past > 0 && cache->next_position.defined()) {
    positions = (cache->next_position.to(lopt).unsqueeze(1) + new_mask.cumsum(1) - 1).clamp_min(0);
  } else {
    positions = (full.cumsum(1) - 1).clamp_min(0).narrow(1, past, T);
  }

  AttentionContext ctx;
  // RoPE tables in float32 (as HF computes them), then cast to the model dtype.
  auto inv = inv_freq.to(at::TensorOptions().dtype(at::kFloat).device(dev));
  auto freqs = positions.to(at::kFloat).unsqueeze(-1) * inv.view({1, 1, -1});
  auto emb = at::cat({freqs, freqs}, -1);
  const auto dtype = model->embed_tokens->weight.scalar_type();
  ctx.cos = emb.cos().to(dtype);
  ctx.sin = emb.sin().to(dtype);

  const int64_t S = past + T;
  auto qi = at::arange(past, S, lopt).unsqueeze(1);  // [T,1]
  auto ki = at::arange(0, S, lopt).unsqueeze(0);     // [1,S]
  auto allowed = (ki <= qi).view({1, 1, T, S});
  if (has_padding) allowed = allowed & full.to(at::kBool).view({B, 1, 1, S});
  if (in.segment_ids.defined()) {
    auto seg = in.segment_ids.to(lopt);
    if (seg.sizes() != ids.sizes())
      throw Error("forward: segment_ids must be shaped like input_ids " + c10::str(ids.sizes()) + ", found " +
                  c10::str(seg.sizes()));
    allowed = allowed & (seg.unsqueeze(2) == seg.unsqueeze(1)).unsqueeze(1);
  }
  // A padding query would attend to nothing (softmax of all -inf): let every token see itself.
  allowed = allowed | (ki == qi).view({1, 1, T, S});
  ctx.mask = allowed.expand({B, 1, T, S});
  ctx.plain_causal = !has_padding && !in.segment_ids.defined();
  if (config.sliding_window > 0) {
    auto in_window = (qi - ki) < config.sliding_window;
    ctx.sliding_mask = (ctx.mask & in_window.view({1, 1, T, S}));
  }
  return ctx;
}

at::Tensor CausalLMImpl::hidden_states(const ForwardInput& in) {
  if (!in.input_ids.defined() || in.input_ids.dim() != 2)
    throw Error("forward: input_ids must be a [batch, seq] integer tensor",
                "wrap a single sequence as {{...}} / unsqueeze(0)");
  const int64_t V = config.vocab_size;
  auto ids = in.input_ids.to(at::kLong);
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    if (lo < 0 || hi >= V)
      throw Error("forward: token id " + std::to_string(lo < 0 ? lo : hi) +
                  " is outside the vocabulary [0, " + std::to_string(V) + ")");
  }
  // Everything per-call lives on the model's device.
  ForwardInput local = in;
  local.input_ids = ids.to(model->embed_tokens->weight.device());
  at::Tensor positions, new_mask;
  AttentionContext ctx = attention_context(local, positions, new_mask);
  at::Tensor x = model->embed_tokens(local.input_ids);
  const bool recompute = gradient_checkpointing && is_training() && at::GradMode::is_enabled() && !in.cache;
  for (auto& block : model->blocks) x = recompute ? checkpointed_block(block, x, ctx) : block(x, ctx, in.cache);
  if (in.cache) in.cache->advance(new_mask, positions.select(1, positions.size(1) - 1) + 1);
  return model->norm(x);
}

at::Tensor CausalLMImpl::logits(const at::Tensor& hidden) {
  return lm_head ? lm_head(hidden) : linear_forward(hidden, model->embed_tokens->weight, at::Tensor());
}

at::Tensor CausalLMImpl::loss_sum(const ForwardInput& in, const at::Tensor& labels, int64_t ignore_index) {
  at::Tensor h = hidden_states(in);
  const int64_t T = h.size(1), H = h.size(2);
  if (labels.sizes() != in.input_ids.sizes())
    throw Error("loss: labels must be shaped like input_ids " + c10::str(in.input_ids.sizes()) + ", found " +
                c10::str(labels.sizes()));
  at::Tensor target = labels.to(h.device(), at::kLong).slice(1, 1, T).reshape({-1});
  at::Tensor rows = h.slice(1, 0, T - 1).reshape({-1, H});
  at::Tensor keep = target != ignore_index;
  if (!keep.all().item<bool>()) {
    at::Tensor idx = keep.nonzero().squeeze(1);
    rows = rows.index_select(0, idx);
    target = target.index_select(0, idx);
  }
  return at::cross_entropy_loss(logits(rows).to(at::kFloat), target, {}, at::Reduction::Sum, ignore_index);
}

at::Tensor CausalLMImpl::forward(const ForwardInput& in) {
  auto h = hidden_states(in);
  if (in.last_logits_only) h = h.narrow(1, h.size(1) - 1, 1);
  return logits(h);
}

}  // namespace ft::model
