// SFT trainer step, evaluation and checkpoints (see trainer.h).
#include "train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/interrupt.h"
#include "io/safetensors.h"

namespace ft::train {

namespace {

at::Tensor as_tensor(const std::vector<int64_t>& v, int64_t rows, int64_t cols, c10::Device d) {
  return at::from_blob(const_cast<int64_t*>(v.data()), {rows, cols}, at::kLong).clone().to(d);
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) out.emplace_back(e->d_name);
  closedir(d);
  return out;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

void on_sigterm(int) { ft::request_interrupt(); }

}  // namespace

void install_sigterm_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_sigterm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
}

SftTrainer::SftTrainer(std::shared_ptr<model::Model> m, std::vector<data::Example> train,
                       std::vector<data::Example> eval, const TrainerOptions& o)
    : m_(std::move(m)),
      train_(o.pack_len > 0 ? data::pack(train, o.pack_len) : std::move(train)),
      eval_(std::move(eval)),
      opt_(o),
      sampler_(static_cast<int64_t>(train_.size()),
               data::SamplerOptions{o.batch_size, o.seed, o.shuffle, o.rank, o.world_size}) {
  if (o.grad_accum < 1) throw Error("grad_accum must be >= 1");
  steps_per_epoch_ = std::max<int64_t>(1, sampler_.batches_per_epoch() / o.grad_accum);
  opt_.schedule.total_steps = o.max_steps > 0 ? o.max_steps : o.epochs * steps_per_epoch_;
  if (opt_.schedule.total_steps < 1) throw Error("nothing to train: epochs and max_steps give 0 steps");
  if (opt_.schedule.warmup_steps == 0 && o.warmup_ratio > 0)
    opt_.schedule.warmup_steps = static_cast<int64_t>(std::ceil(o.warmup_ratio * opt_.schedule.total_steps));
  check_schedule(opt_.schedule);
  for (auto& p : m_->lm->named_parameters())
    if (p.value().requires_grad()) params_.emplace_back(p.key(), p.value());
  optim_ = make_optimizer(o.optimizer, params_, o.adamw);
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
  at::Tensor logits = m_->lm->forward(in);
  at::Tensor l = logits.slice(1, 0, b.cols - 1).reshape({-1, logits.size(-1)}).to(at::kFloat);
  at::Tensor t = labels.slice(1, 1, b.cols).reshape({-1});
  at::Tensor loss = at::cross_entropy_loss(l, t, {}, at::Reduction::Sum, data::kIgnoreIndex);
  return {loss, b.label_tokens};
}

StepStats SftTrainer::step() {
  if (done()) throw Error("training is finished (" + std::to_string(step_) + " of " +
                          std::to_string(total_steps()) + " steps)", "raise max_steps or epochs to train further");
  auto t0 = std::chrono::steady_clock::now();
  m_->lm->train();
  StepStats s;
  std::vector<data::Batch> batches;
  for (int64_t k = 0; k < opt_.grad_accum; ++k) {
    batches.push_back(micro_batch(step_ * opt_.grad_accum + k));
    s.label_tokens += batches.back().label_tokens;
    for (auto v : batches.back().attention_mask) s.tokens += v;
  }
  const double denom = static_cast<double>(std::max<int64_t>(1, s.label_tokens));
  optim_->zero_grad();
  double loss_sum = 0;
  for (auto& b : batches) {
    auto [loss, n] = batch_loss_sum(b);
    (void)n;
    at::Tensor scaled = loss / denom;
    scaled.backward();
    loss_sum += scaled.item<double>();
  }
  s.grad_norm = clip_grad_norm(params_, opt_.max_grad_norm);
  s.lr = current_lr();
  if (std::isfinite(s.grad_norm)) optim_->step(s.lr);
  optim_->zero_grad();
  ++step_;
  s.step = step_;
  s.loss = loss_sum;
  s.epoch = (step_ * opt_.grad_accum - 1) / sampler_.batches_per_epoch();
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

std::string latest_checkpoint(const std::string& output) {
  const std::string ptr = output + "/latest";
  if (!fs::exists(ptr)) return "";
  std::string name = trim(fs::read_file(ptr));
  if (name.empty() || name.find('/') != std::string::npos)
    throw Error(ptr + ": expected the name of a checkpoint folder, found '" + name + "'");
  const std::string dir = output + "/" + name;
  if (!fs::exists(dir + "/trainer_state.json"))
    throw Error(ptr + " points at '" + name + "', which has no trainer_state.json",
                "the checkpoint folder was removed; delete " + ptr + " to start from scratch");
  return dir;
}

std::string SftTrainer::save_checkpoint() {
  if (opt_.output.empty()) throw Error("save: ft.sft was given no output folder");
  fs::make_dirs(opt_.output);
  // Leftovers of an interrupted save are never used; clear them.
  for (auto& n : list_dir(opt_.output))
    if (n.rfind(".checkpoint-", 0) == 0) fs::remove_all(opt_.output + "/" + n);
  const std::string name = "checkpoint-" + std::to_string(step_);
  const std::string final_dir = opt_.output + "/" + name;
  const std::string tmp = opt_.output + "/." + name + ".tmp." + std::to_string(::getpid());
  fs::make_dirs(tmp);
  NamedTensors tensors;
  for (auto& kv : params_) tensors.emplace_back("param." + kv.first, kv.second.detach().cpu().contiguous());
  for (auto& kv : optim_->state()) tensors.emplace_back("optimizer." + kv.first, kv.second.cpu().contiguous());
  {
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    tensors.emplace_back("rng.cpu", gen.get_state());
  }
  io::write_safetensors_file(tmp + "/state.safetensors", tensors, {{"format", "pt"}});
  nlohmann::json st;
  st["global_step"] = step_;
  st["total_steps"] = total_steps();
  st["seed"] = opt_.seed;
  st["optimizer"] = optim_->name();
  st["micro_batches_done"] = step_ * opt_.grad_accum;
  st["rank"] = opt_.rank;
  st["world_size"] = opt_.world_size;
  fs::write_file_atomic(tmp + "/trainer_state.json", st.dump(2) + "\n");
  fs::fsync_path(tmp);
  if (fs::exists(final_dir)) fs::remove_all(final_dir);
  fs::rename_durable(tmp, final_dir);
  fs::write_file_atomic(opt_.output + "/latest", name + "\n");
  // Keep the newest save_total_limit checkpoints (the one just written always stays).
  if (opt_.save_total_limit > 0) {
    std::vector<int64_t> steps;
    for (auto& n : list_dir(opt_.output))
      if (n.rfind("checkpoint-", 0) == 0 && n.find_first_not_of("0123456789", 11) == std::string::npos &&
          n.size() > 11)
        steps.push_back(std::stoll(n.substr(11)));
    std::sort(steps.begin(), steps.end());
    for (size_t i = 0; i + static_cast<size_t>(opt_.save_total_limit) < steps.size(); ++i)
      if (steps[i] != step_) fs::remove_all(opt_.output + "/checkpoint-" + std::to_string(steps[i]));
  }
  return final_dir;
}

void SftTrainer::load_checkpoint(const std::string& dir) {
  nlohmann::json st;
  try {
    st = nlohmann::json::parse(fs::read_file(dir + "/trainer_state.json"));
  } catch (const nlohmann::json::exception& e) {
    throw Error(dir + "/trainer_state.json: invalid JSON (" + e.what() + ")");
  }
  auto sd = io::load_safetensors_file(dir + "/state.safetensors");
  torch::NoGradGuard ng;
  for (auto& kv : params_) {
    auto it = sd.find("param." + kv.first);
    if (it == sd.end())
      throw Error(dir + "/state.safetensors: missing parameter '" + kv.first + "'",
                  "the checkpoint was made with different trainable parameters (another LoRA config?)");
    if (it->second.sizes() != kv.second.sizes())
      throw Error(dir + "/state.safetensors: parameter '" + kv.first + "' has a different shape");
    kv.second.copy_(it->second);
  }
  std::map<std::string, at::Tensor> ost;
  for (auto& kv : sd)
    if (kv.first.rfind("optimizer.", 0) == 0) ost[kv.first.substr(10)] = kv.second;
  optim_->load_state(ost);
  auto rng = sd.find("rng.cpu");
  if (rng == sd.end()) throw Error(dir + "/state.safetensors: missing 'rng.cpu'");
  at::Generator gen = at::detail::getDefaultCPUGenerator();  // shares the global generator
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(rng->second.clone());
  step_ = st.at("global_step").get<int64_t>();
}

int64_t SftTrainer::resume() {
  if (opt_.output.empty()) return 0;
  std::string dir = latest_checkpoint(opt_.output);
  if (dir.empty()) return 0;
  load_checkpoint(dir);
  return step_;
}

}  // namespace ft::train
