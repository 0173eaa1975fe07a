// SFT trainer step, evaluation and checkpoints (see trainer.h).
#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace ft::train {

namespace {

at::Tensor as_tensor(const std::vector<int64_t>& v, int64_t rows, int64_t cols, c10::Device d) {
  return at::from_blob(const_cast<int64_t*>(v.data()), {rows, cols}, at::kLong).clone().to(d);
}

}  // namespace

SftTrainer::SftTrainer(std::shared_ptr<model::Model> m, std::vector<data::Example> train,
                       std::vector<data::Example> eval, const TrainerOptions& o)
    : m_(std::move(m)),
      train_(o.pack_len > 0 ? data::pack(train, o.pack_len) : std::move(train)),
      eval_(std::move(eval)),
      opt_(o),
      sampler_(static_cast<int64_t>(train_.size()),
               data::SamplerOptions{o.batch_size, o.seed, o.shuffle, o.rank, o.world_size, o.group_by_length,
                                    o.grad_accum},
               o.group_by_length ? data::lengths_of(train_) : std::vector<int64_t>{}) {
  if (o.grad_accum < 1) throw Error("grad_accum must be >= 1");
  steps_per_epoch_ = std::max<int64_t>(1, sampler_.batches_per_epoch() / o.grad_accum);
  state_ = std::make_unique<TrainState>(m_, o, o.max_steps > 0 ? o.max_steps : o.epochs * steps_per_epoch_);
}

data::Batch SftTrainer::micro_batch(int64_t index) const {
  std::vector<const data::Example*> ex;
  for (int64_t i : sampler_.batch(index)) ex.push_back(&train_[i]);
  const auto& tok = m_->tokenizer;
  int64_t pad = tok && tok->pad_id ? *tok->pad_id : (tok && tok->eos_id ? *tok->eos_id : 0);
  return data::collate(ex, pad);
}

std::pair<at::Tensor, int64_t> SftTrainer::batch_loss_sum(const data::Batch& b) {
  const c10::Device dev = m_->device();
  model::ForwardInput in;
  in.input_ids = as_tensor(b.input_ids, b.rows, b.cols, dev);
  if (b.segment_ids.empty())
    in.attention_mask = as_tensor(b.attention_mask, b.rows, b.cols, dev);
  else
    in.segment_ids = as_tensor(b.segment_ids, b.rows, b.cols, dev);
  at::Tensor labels = as_tensor(b.labels, b.rows, b.cols, dev);
  return {m_->lm->loss_sum(in, labels, data::kIgnoreIndex), b.label_tokens};
}

StepStats SftTrainer::step() {
  if (done())
    throw Error("training is finished (" + std::to_string(global_step()) + " of " +
                    std::to_string(total_steps()) + " steps)",
                "raise max_steps or epochs to train further");
  auto t0 = std::chrono::steady_clock::now();
  m_->lm->train();
  StepStats s;
  std::vector<data::Batch> batches;
  const int64_t step0 = global_step();
  for (int64_t k = 0; k < opt_.grad_accum; ++k) {
    batches.push_back(micro_batch(step0 * opt_.grad_accum + k));
    s.label_tokens += batches.back().label_tokens;
    for (auto v : batches.back().attention_mask) s.tokens += v;
    s.padded_tokens += batches.back().rows * batches.back().cols;
  }
  // The divisor is the label count of the whole accumulated batch across ranks (rank_sync.h).
  std::vector<double> count{static_cast<double>(s.label_tokens)};
  state_->sum_across_ranks(count);
  s.global_label_tokens = static_cast<int64_t>(count[0]);
  const double denom = static_cast<double>(std::max<int64_t>(1, s.global_label_tokens));
  state_->zero_grad();
  double loss_sum = 0;
  for (auto& b : batches) {
    auto [loss, n] = batch_loss_sum(b);
    (void)n;
    at::Tensor scaled = loss / denom;
    state_->backward(scaled);
    loss_sum += scaled.item<double>();
  }
  UpdateStats u = state_->update();
  std::vector<double> total{loss_sum};  // the logged loss: the global mean on every rank
  state_->sum_across_ranks(total);
  loss_sum = total[0];
  s.grad_norm = u.grad_norm;
  s.lr = u.lr;
  s.overflow = u.overflow;
  s.loss_scale = u.loss_scale;
  s.step = global_step();
  s.loss = loss_sum;
  s.epoch = (s.step * opt_.grad_accum - 1) / sampler_.batches_per_epoch();
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

EvalStats SftTrainer::evaluate() {
  EvalStats e;
  if (eval_.empty()) throw Error("evaluate: no eval_data was given to ft.sft");
  torch::NoGradGuard ng;
  m_->lm->eval();
  const auto& tok = m_->tokenizer;
  int64_t pad = tok && tok->pad_id ? *tok->pad_id : 0;
  double sum = 0;
  for (size_t i = 0; i < eval_.size(); i += static_cast<size_t>(opt_.batch_size)) {
    std::vector<const data::Example*> ex;
    for (size_t j = i; j < std::min(eval_.size(), i + static_cast<size_t>(opt_.batch_size)); ++j)
      ex.push_back(&eval_[j]);
    auto b = data::collate(ex, pad);
    auto [loss, n] = batch_loss_sum(b);
    sum += loss.item<double>();
    e.label_tokens += n;
  }
  m_->lm->train();
  e.loss = sum / static_cast<double>(std::max<int64_t>(1, e.label_tokens));
  e.perplexity = std::exp(e.loss);
  return e;
}

std::string SftTrainer::save_checkpoint(const nlohmann::json& callbacks) {
  if (opt_.output.empty()) throw Error("save: ft.sft was given no output folder");
  nlohmann::json st;
  st["micro_batches_done"] = global_step() * opt_.grad_accum;
  if (!callbacks.is_null()) st["callbacks"] = callbacks;
  return state_->save(st);
}

void SftTrainer::load_checkpoint(const std::string& dir) {
  nlohmann::json st = state_->load(dir);
  callbacks_ = st.contains("callbacks") ? st["callbacks"] : nlohmann::json();
}

int64_t SftTrainer::resume() {
  if (opt_.output.empty()) return 0;
  std::string dir = latest_checkpoint(opt_.output);
  if (dir.empty()) return 0;
  load_checkpoint(dir);
  return global_step();
}

}  // namespace ft::train
