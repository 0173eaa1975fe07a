// The decoder-only causal LM shared by llama / qwen2 / mistral: RMSNorm, rotate-half RoPE, grouped-query
// attention, SwiGLU MLP, tied or untied output head. Modules carry Hugging Face parameter names, so
// named_parameters() of CausalLM equals the keys of a HF state dict
// ("model.layers.0.self_attn.q_proj.weight"). Blocks are separate modules (DecoderLayer) so trainers can
// checkpoint activations per block.
#pragma once

#include <torch/torch.h>

#include "model/config.h"
#include "model/kv_cache.h"
#include "model/linear.h"

namespace ft::model {

// One forward call's inputs. Only input_ids is required.
struct ForwardInput {
  at::Tensor input_ids;  // [B, T] int64
  // [B, past+T] (or [B, T] without a cache): 1 = real token, 0 = padding (left padding for batches).
  // With a cache, the past part is taken from the cache when this covers only the T new tokens.
  at::Tensor attention_mask;
  // [B, T] int64. Default: from the mask (count of real tokens before each one), or restarting at 0 in
  // every segment when segment_ids is given, or past..past+T-1.
  at::Tensor position_ids;
  // [B, T] int64, packed sequences: a token attends only to earlier tokens with the same segment id
  // (block-diagonal causal mask). Not combinable with a cache.
  at::Tensor segment_ids;
  KVCache* cache = nullptr;       // when set: keys/values are appended and attention covers the past
  bool last_logits_only = false;  // return logits of the last position only ([B, 1, V])
};

// Attention inputs shared by every layer of one forward call.
struct AttentionContext {
  at::Tensor cos, sin;        // [B, T, head_dim] in the model dtype
  at::Tensor mask;            // bool [B, 1, T, S], true = may attend (S = past + T)
  at::Tensor sliding_mask;    // same, restricted to the sliding window; undefined when unused
  bool plain_causal = false;  // mask is exactly causal with no padding (lets SDPA use is_causal)
};

struct RMSNormImpl : torch::nn::Module {
  RMSNormImpl(int64_t dim, double eps);
  at::Tensor forward(const at::Tensor& x);
  at::Tensor weight;
  double eps;
};
TORCH_MODULE(RMSNorm);

struct AttentionImpl : torch::nn::Module {
  AttentionImpl(const ModelConfig& c, int64_t layer_idx);
  at::Tensor forward(const at::Tensor& x, const AttentionContext& ctx, KVCache* cache);
  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  int64_t layer_idx, heads, kv_heads, head_dim;
  bool sliding;
};
TORCH_MODULE(Attention);

struct MLPImpl : torch::nn::Module {
  explicit MLPImpl(const ModelConfig& c);
  at::Tensor forward(const at::Tensor& x);
  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(MLP);

struct DecoderLayerImpl : torch::nn::Module {
  DecoderLayerImpl(const ModelConfig& c, int64_t layer_idx);
  at::Tensor forward(const at::Tensor& x, const AttentionContext& ctx, KVCache* cache);
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Attention self_attn{nullptr};
  MLP mlp{nullptr};
};
TORCH_MODULE(DecoderLayer);

// HF "model.*": embeddings, layers, final norm.
struct DecoderImpl : torch::nn::Module {
  explicit DecoderImpl(const ModelConfig& c);
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
  std::vector<DecoderLayer> blocks;  // the same modules as `layers`, typed
};
TORCH_MODULE(Decoder);

struct CausalLMImpl : torch::nn::Module {
  explicit CausalLMImpl(const ModelConfig& c);
  // Final hidden states [B, T, H] (after the last norm). Advances in.cache when given.
  at::Tensor hidden_states(const ForwardInput& in);
  // Logits [B, T, V] (or [B, 1, V] with last_logits_only) in the model dtype.
  at::Tensor forward(const ForwardInput& in);
  at::Tensor logits(const at::Tensor& hidden);
  // Training loss: the sum of next-token cross-entropies (position t predicts labels[:, t+1]) over the
  // positions whose label is not ignore_index, in float32. The output projection and the softmax run
  // on those positions only (not on prompt tokens or padding, not on the last position).
  at::Tensor loss_sum(const ForwardInput& in, const at::Tensor& labels, int64_t ignore_index);
  // Builds RoPE tables and masks for a call (public for trainers running blocks one by one).
  AttentionContext attention_context(const ForwardInput& in, at::Tensor& position_ids, at::Tensor& new_mask);
  // The output projection weight (lm_head, or the embedding when tied).
  at::Tensor output_weight();

  ModelConfig config;
  // Training: recompute each block in backward instead of keeping its activations
  // (activation_checkpoint.h); used only with grad mode on, in train mode, without a KV cache.
  bool gradient_checkpointing = false;
  Decoder model{nullptr};
  Linear lm_head{nullptr};  // null when tie_word_embeddings
  at::Tensor inv_freq;      // float64 [head_dim/2] on CPU (not a parameter, like HF's non-persistent buffer)
};
TORCH_MODULE(CausalLM);

}  // namespace ft::model
