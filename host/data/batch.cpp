// Deterministic rank-aware sampling and right-padded collation.
#include "data/batch.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"

namespace ft::data {

uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

namespace {
constexpr int64_t kMaxMegabatchMult = 50;  // transformers' LengthGroupedSampler default
constexpr int64_t kMegabatchDivisor = 4;   // ... which uses min(n / (4 * batch), 50) batches per megabatch
}  // namespace

Sampler::Sampler(int64_t n, const SamplerOptions& opt, std::vector<int64_t> lengths)
    : n_(n), opt_(opt), lengths_(std::move(lengths)) {
  if (opt.group_by_length && static_cast<int64_t>(lengths_.size()) != n)
    throw Error("group_by_length: " + std::to_string(lengths_.size()) + " lengths given for " +
                std::to_string(n) + " examples");
  if (opt.batch_size < 1) throw Error("batch_size must be >= 1");
  if (opt.world_size < 1 || opt.rank < 0 || opt.rank >= opt.world_size)
    throw Error("rank " + std::to_string(opt.rank) + " is outside world_size " +
                std::to_string(opt.world_size));
  const int64_t global = opt.batch_size * opt.world_size;
  if (n < 1) throw Error("the training data is empty", "check the dataset and any :filter applied to it");
  if (n < global)
    throw Error("the data has " + std::to_string(n) + " examples, fewer than one global batch (" +
                    std::to_string(opt.batch_size) + " per rank x " + std::to_string(opt.world_size) +
                    " ranks)",
                "lower batch_size or add data");
  batches_per_epoch_ = n / global;
}

std::vector<int64_t> Sampler::epoch_order(int64_t epoch) const {
  std::vector<int64_t> order(n_);
  std::iota(order.begin(), order.end(), 0);
  if (opt_.shuffle) {
    uint64_t s = opt_.seed * 0x100000001B3ull + static_cast<uint64_t>(epoch) + 1;
    for (int64_t i = n_ - 1; i > 0; --i) {  // Fisher-Yates with our own RNG: same order on every platform
      int64_t j = static_cast<int64_t>(splitmix64(s) % static_cast<uint64_t>(i + 1));
      std::swap(order[i], order[j]);
    }
  }
  if (!opt_.group_by_length) return order;
  const int64_t mb = megabatch_size();
  auto longer = [&](int64_t a, int64_t b) { return lengths_[a] > lengths_[b]; };
  for (int64_t start = 0; start < n_; start += mb)  // stable: ties keep the permutation's order
    std::stable_sort(order.begin() + start, order.begin() + std::min(n_, start + mb), longer);
  // Each megabatch now starts with its longest example; the longest of all goes to the front.
  int64_t best = 0;
  for (int64_t start = mb; start < n_; start += mb)
    if (lengths_[order[start]] > lengths_[order[best]]) best = start;
  std::swap(order[0], order[best]);
  return order;
}

int64_t Sampler::megabatch_size() const {
  const int64_t step = opt_.batch_size * opt_.world_size * std::max<int64_t>(1, opt_.grad_accum);
  return step * std::clamp<int64_t>(n_ / (kMegabatchDivisor * step), 1, kMaxMegabatchMult);
}

std::vector<int64_t> lengths_of(const std::vector<Example>& examples) {
  std::vector<int64_t> out;
  out.reserve(examples.size());
  for (const auto& e : examples) out.push_back(static_cast<int64_t>(e.ids.size()));
  return out;
}

std::vector<int64_t> Sampler::batch(int64_t index) const {
  if (index < 0) throw Error("negative batch index");
  const int64_t epoch = index / batches_per_epoch_, b = index % batches_per_epoch_;
  if (epoch != cached_epoch_) {
    cached_order_ = epoch_order(epoch);
    cached_epoch_ = epoch;
  }
  const int64_t start = (b * opt_.world_size + opt_.rank) * opt_.batch_size;
  return std::vector<int64_t>(cached_order_.begin() + start, cached_order_.begin() + start + opt_.batch_size);
}

Batch collate(const std::vector<const Example*>& examples, int64_t pad_id) {
  Batch b;
  b.rows = static_cast<int64_t>(examples.size());
  for (const auto* e : examples) b.cols = std::max<int64_t>(b.cols, static_cast<int64_t>(e->ids.size()));
  b.input_ids.assign(b.rows * b.cols, pad_id);
  b.labels.assign(b.rows * b.cols, kIgnoreIndex);
  b.attention_mask.assign(b.rows * b.cols, 0);
  bool packed = false;
  for (const auto* e : examples) packed = packed || !e->segment_ids.empty();
  if (packed) b.segment_ids.assign(b.rows * b.cols, 0);
  for (int64_t r = 0; r < b.rows; ++r) {
    const Example& e = *examples[r];
    for (size_t t = 0; t < e.ids.size(); ++t) {
      b.input_ids[r * b.cols + t] = e.ids[t];
      b.labels[r * b.cols + t] = e.labels[t];
      b.attention_mask[r * b.cols + t] = 1;
      if (packed) b.segment_ids[r * b.cols + t] = e.segment_ids.empty() ? 1 : e.segment_ids[t];
    }
    b.label_tokens += e.label_tokens();
  }
  return b;
}

}  // namespace ft::data

namespace ft::data {

std::vector<Example> pack(const std::vector<Example>& examples, int64_t max_len) {
  std::vector<Example> rows;
  // Rows hold at most max_len tokens: reserving that keeps push_back from doubling past it.
  auto fresh = [max_len] {
    Example e;
    e.ids.reserve(max_len);
    e.labels.reserve(max_len);
    e.segment_ids.reserve(max_len);
    return e;
  };
  Example cur = fresh();
  int32_t seg = 0;
  for (size_t i = 0; i < examples.size(); ++i) {
    const Example& e = examples[i];
    if (static_cast<int64_t>(e.ids.size()) > max_len)
      throw Error("pack: example " + std::to_string(i + 1) + " has " + std::to_string(e.ids.size()) +
                  " tokens, more than max_len " + std::to_string(max_len));
    if (static_cast<int64_t>(cur.ids.size() + e.ids.size()) > max_len) {
      rows.push_back(std::move(cur));
      cur = fresh();
      seg = 0;
    }
    ++seg;
    for (size_t t = 0; t < e.ids.size(); ++t) {
      cur.ids.push_back(e.ids[t]);
      cur.labels.push_back(t == 0 ? kIgnoreIndex : e.labels[t]);
      cur.segment_ids.push_back(seg);
    }
  }
  if (!cur.ids.empty()) rows.push_back(std::move(cur));
  return rows;
}

}  // namespace ft::data
