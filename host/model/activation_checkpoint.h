// Activation (gradient) checkpointing per transformer block: forward runs the block without building a
// graph and keeps only its input; backward runs the block again with gradients and backpropagates through
// that. Memory for activations drops from all blocks to one block at a time, for one extra forward.
// The recomputation sees the same random numbers (dropout) as the first run: the generator state is saved
// before the block and restored around the recomputation.
#pragma once

#include <torch/torch.h>

#include "model/transformer.h"

namespace ft::model {

// Runs `block` on x under checkpointing (training, no KV cache). The block's trainable parameters receive
// their gradients in backward as usual, also when x itself needs none (frozen embeddings + LoRA).
at::Tensor checkpointed_block(DecoderLayer& block, const at::Tensor& x, const AttentionContext& ctx);

// True while a checkpointed block runs its first, graph-less forward: layers that act only when training
// with gradients (LoRA dropout) must act then too, so both runs compute the same thing.
bool in_checkpoint_forward();

}  // namespace ft::model
