// Key/value cache for incremental decoding: per layer a preallocated [B, kv_heads, capacity, head_dim]
// buffer of which the first `length` positions are filled, plus the attention mask of those positions
// (0 marks left padding). Rows can be repeated (GRPO: one prompt prefix shared by G samples) or selected.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace ft::model {

struct KVCache {
  std::vector<at::Tensor> k, v;  // per layer; undefined until the first append
  int64_t length = 0;            // positions filled (the same for every row)
  at::Tensor attention_mask;     // [B, length] int64, 1 = real token, 0 = padding
  at::Tensor next_position;      // [B] int64: the position id the next token of each row gets

  explicit KVCache(int64_t num_layers = 0) : k(num_layers), v(num_layers) {}
  int64_t batch() const { return attention_mask.defined() ? attention_mask.size(0) : 0; }
  int64_t capacity() const { return k.empty() || !k[0].defined() ? 0 : k[0].size(2); }

  // Writes k_new/v_new ([B, kvh, T, hd]) of `layer` at positions [length, length+T) and returns views of
  // the filled prefix [B, kvh, length+T, hd]. Grows the buffers (doubling) when full.
  std::pair<at::Tensor, at::Tensor> append(size_t layer, const at::Tensor& k_new, const at::Tensor& v_new);
  // Commits T new positions after every layer appended (mask gets `new_mask` [B, T]).
  void advance(const at::Tensor& new_mask, const at::Tensor& new_next_position);
  // Reserve room for `total` positions (avoids regrowth during generation).
  void reserve(int64_t total);
  // A cache whose row i*n+j is row i of this one (each row repeated n times), e.g. one prompt -> G samples.
  KVCache repeat_rows(int64_t n) const;
  // Keeps only the given rows (int64 indices), in that order.
  KVCache select_rows(const at::Tensor& rows) const;
};

}  // namespace ft::model
