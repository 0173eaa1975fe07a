// RankSync: the trainer's only view of the other ranks of a data-parallel run. host/dist implements it
// over NCCL / Gloo; tests implement it with threads. The trainer calls it at the same points of every
// step on every rank, in the same order, so a collective implementation needs no extra coordination:
//   1. sum({label tokens of this rank's accumulated batch}) before backward: every rank divides its loss
//      sum by the label tokens of the whole accumulated batch across ranks (not its own);
//   2. sum(grad) for each trainable parameter, in named_parameters() order, after backward: the ranks'
//      gradients are SUMMED (already normalised globally; a DDP-style mean would have to multiply by
//      world_size, as transformers does with average_tokens_across_devices);
//   3. sum({loss}) for the logged loss, which is then the global mean on every rank.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace ft::train {

class RankSync {
 public:
  virtual ~RankSync() = default;
  // Element-wise sum over all ranks, in place; every rank gets the same result.
  virtual void sum(std::vector<double>& values) = 0;
  // Sum of a tensor over all ranks, in place (same shape and dtype on every rank).
  virtual void sum(at::Tensor& t) = 0;
};

}  // namespace ft::train
