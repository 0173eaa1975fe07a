// KV cache buffers: append with amortised growth, row repetition and selection.
#include "model/kv_cache.h"

#include <algorithm>

namespace ft::model {

namespace {
at::Tensor grow(const at::Tensor& buf, int64_t used, int64_t cap) {
  auto bigger = at::empty({buf.size(0), buf.size(1), cap, buf.size(3)}, buf.options());
  bigger.narrow(2, 0, used).copy_(buf.narrow(2, 0, used));
  return bigger;
}
}  // namespace

std::pair<at::Tensor, at::Tensor> KVCache::append(size_t layer, const at::Tensor& k_new,
                                                  const at::Tensor& v_new) {
  const int64_t t = k_new.size(2), need = length + t;
  at::Tensor& kb = k.at(layer);
  at::Tensor& vb = v.at(layer);
  if (!kb.defined()) {
    int64_t cap = std::max<int64_t>(need, 16);
    kb = at::empty({k_new.size(0), k_new.size(1), cap, k_new.size(3)}, k_new.options());
    vb = at::empty({v_new.size(0), v_new.size(1), cap, v_new.size(3)}, v_new.options());
  } else if (kb.size(2) < need) {
    int64_t cap = std::max<int64_t>(need, kb.size(2) * 2);
    kb = grow(kb, length, cap);
    vb = grow(vb, length, cap);
  }
  kb.narrow(2, length, t).copy_(k_new);
  vb.narrow(2, length, t).copy_(v_new);
  return {kb.narrow(2, 0, need), vb.narrow(2, 0, need)};
}

void KVCache::advance(const at::Tensor& new_mask, const at::Tensor& new_next_position) {
  attention_mask = attention_mask.defined() ? at::cat({attention_mask, new_mask.to(at::kLong)}, 1)
                                            : new_mask.to(at::kLong);
  length += new_mask.size(1);
  next_position = new_next_position;
}

void KVCache::reserve(int64_t total) {
  for (size_t i = 0; i < k.size(); ++i) {
    if (k[i].defined() && k[i].size(2) < total) {
      k[i] = grow(k[i], length, total);
      v[i] = grow(v[i], length, total);
    }
  }
}

KVCache KVCache::repeat_rows(int64_t n) const {
  KVCache out(static_cast<int64_t>(k.size()));
  out.length = length;
  for (size_t i = 0; i < k.size(); ++i) {
    if (!k[i].defined()) continue;
    out.k[i] = k[i].repeat_interleave(n, 0);
    out.v[i] = v[i].repeat_interleave(n, 0);
  }
  if (attention_mask.defined()) out.attention_mask = attention_mask.repeat_interleave(n, 0);
  if (next_position.defined()) out.next_position = next_position.repeat_interleave(n, 0);
  return out;
}

KVCache KVCache::select_rows(const at::Tensor& rows) const {
  KVCache out(static_cast<int64_t>(k.size()));
  out.length = length;
  for (size_t i = 0; i < k.size(); ++i) {
    if (!k[i].defined()) continue;
    out.k[i] = k[i].index_select(0, rows.to(k[i].device()));
    out.v[i] = v[i].index_select(0, rows.to(v[i].device()));
  }
  if (attention_mask.defined())
    out.attention_mask = attention_mask.index_select(0, rows.to(attention_mask.device()));
  if (next_position.defined())
    out.next_position = next_position.index_select(0, rows.to(next_position.device()));
  return out;
}

}  // namespace ft::model
