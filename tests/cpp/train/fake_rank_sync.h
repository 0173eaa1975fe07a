// A data-parallel world inside one test process: ranks are threads, and FakeRankSync sums through
// FakeWorld (an all-reduce over a mutex and condition variable) behind the trainer's RankSync interface.
// Shared by the SFT and GRPO rank tests.
#pragma once

#include <condition_variable>
#include <mutex>
#include <vector>

#include "train/rank_sync.h"

namespace ft::test {

// An all-reduce over threads: each rank deposits its tensor; the last to arrive sums them in rank
// order and wakes the others, which copy the result.
class FakeWorld {
 public:
  explicit FakeWorld(int n) : n_(n), slots_(n) {}
  void all_sum(int rank, at::Tensor& t) {
    std::unique_lock<std::mutex> lock(mu_);
    const int64_t gen = gen_;
    slots_[rank] = t;
    ++calls_;
    if (++arrived_ == n_) {
      result_ = slots_[0].clone();
      for (int r = 1; r < n_; ++r) result_ += slots_[r];
      arrived_ = 0;
      ++gen_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return gen_ != gen; });
    }
    t.copy_(result_);
  }
  int64_t calls() const { return calls_; }

 private:
  int n_;
  std::vector<at::Tensor> slots_;
  at::Tensor result_;
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
  int64_t gen_ = 0, calls_ = 0;
};

class FakeRankSync : public ft::train::RankSync {
 public:
  FakeRankSync(FakeWorld& w, int rank) : w_(w), rank_(rank) {}
  void sum(std::vector<double>& v) override {
    at::Tensor t = at::tensor(v, at::kDouble);
    w_.all_sum(rank_, t);
    for (size_t i = 0; i < v.size(); ++i) v[i] = t[static_cast<int64_t>(i)].item<double>();
  }
  void sum(at::Tensor& t) override { w_.all_sum(rank_, t); }

 private:
  FakeWorld& w_;
  int rank_;
};

}  // namespace ft::test
