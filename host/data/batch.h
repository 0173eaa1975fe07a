// Batching for training: a deterministic, rank-aware sampler (epoch-seeded permutation, optionally
// grouped by length; every rank takes its own slice of each global batch) and right-padded collation
// into flat int64 buffers. The sampler is a pure function of (seed, epoch, batch index): resuming needs
// only the position.
#pragma once

#include <cstdint>
#include <vector>

#include "data/format.h"

namespace ft::data {

struct SamplerOptions {
  int64_t batch_size = 8;  // per rank (micro-batch)
  uint64_t seed = 0;
  bool shuffle = true;
  int rank = 0, world_size = 1;
  // Hugging Face Trainer's group_by_length (LengthGroupedSampler): the epoch's permutation is cut into
  // megabatches of mult step batches (a step batch = batch_size x world_size x grad_accum examples;
  // mult = min(n / (4 x step batch), 50), at least 1), each sorted by length, longest first, and the
  // longest example of the epoch is moved to the very first batch (an out-of-memory shows at once).
  // Batches then hold similar lengths, so padding shrinks. transformers groups by per-device batch x
  // gradient_accumulation_steps; with one process the two are the same.
  bool group_by_length = false;
  int64_t grad_accum = 1;  // micro-batches per optimizer step (sizes the megabatches only)
};

class Sampler {
 public:
  // `lengths` (tokens per example) is needed with group_by_length only.
  Sampler(int64_t num_examples, const SamplerOptions& opt, std::vector<int64_t> lengths = {});
  // Global micro-batches per epoch (a last partial global batch is dropped; fewer examples than one
  // global batch is an error).
  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  // Example indices of this rank's part of micro-batch `index` counted from the start of training
  // (epoch = index / batches_per_epoch).
  std::vector<int64_t> batch(int64_t index) const;
  // The order of an epoch: a permutation (identity without shuffle), grouped by length when asked.
  std::vector<int64_t> epoch_order(int64_t epoch) const;
  // Examples per megabatch with group_by_length.
  int64_t megabatch_size() const;

 private:
  int64_t n_, batches_per_epoch_;
  SamplerOptions opt_;
  std::vector<int64_t> lengths_;
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<int64_t> cached_order_;
};

struct Batch {
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> input_ids, labels, attention_mask;  // [rows * cols], right padded
  std::vector<int64_t> segment_ids;                        // packed batches only (padding gets segment 0)
  int64_t label_tokens = 0;                                // labels that take part in the loss
};

// Tokens per example (what group_by_length sorts by).
std::vector<int64_t> lengths_of(const std::vector<Example>& examples);

// Right-pads the examples to the longest one (pad id in input_ids, -100 in labels, 0 in the mask).
Batch collate(const std::vector<const Example*>& examples, int64_t pad_id);

// Packs examples (in order, greedily) into rows of at most max_len tokens. Each sample keeps its own
// segment id; the first label of every sample is ignored, so no token is predicted across a sample
// boundary and the loss equals the unpacked loss (examples longer than max_len are an error).
std::vector<Example> pack(const std::vector<Example>& examples, int64_t max_len);

// Order-independent 64-bit mixer (splitmix64), the RNG behind the sampler.
uint64_t splitmix64(uint64_t& state);

}  // namespace ft::data
