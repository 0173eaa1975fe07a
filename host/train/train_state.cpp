// The shared optimization state of a trainer: update step, checkpoint save/load (see train_state.h).
#include "train/train_state.h"

#include <ATen/CPUGeneratorImpl.h>
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/fs.h"
#include "core/interrupt.h"
#include "io/safetensors.h"

namespace ft::train {

namespace {

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

void on_sigterm(int) {
  ft::request_interrupt();
}

}  // namespace

void install_sigterm_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_sigterm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
}

TrainState::TrainState(std::shared_ptr<model::Model> m, const StepOptions& o, int64_t total_steps)
    : m_(std::move(m)), opt_(o) {
  opt_.schedule.total_steps = total_steps;
  if (total_steps < 1) throw Error("nothing to train: epochs and max_steps give 0 steps");
  if (opt_.schedule.warmup_steps == 0 && o.warmup_ratio > 0)
    opt_.schedule.warmup_steps = static_cast<int64_t>(std::ceil(o.warmup_ratio * total_steps));
  check_schedule(opt_.schedule);
  const c10::ScalarType dtype = o.precision == "auto" ? m_->dtype() : dtype_of_precision(o.precision);
  precision_ = precision_of(dtype);
  check_precision_supported(m_->device(), dtype);
  if (m_->dtype() != dtype) m_->to(std::nullopt, dtype);
  m_->lm->gradient_checkpointing = o.gradient_checkpointing;
  for (auto& p : m_->lm->named_parameters())
    if (p.value().requires_grad()) params_.emplace_back(p.key(), p.value());
  if (params_.empty())
    throw Error("the model has no trainable parameters", "call m:lora{...}, or unfreeze parameters");
  if (dtype != at::kFloat) mixed_ = std::make_unique<MixedPrecision>(params_, dtype, o.loss_scaler);
  optim_ = make_optimizer(o.optimizer, mixed_ ? mixed_->masters() : params_, o.adamw, o.adafactor, o.sgd);
}

void TrainState::backward(const at::Tensor& loss) {
  (mixed_ ? mixed_->scale_loss(loss) : loss).backward();
}

void TrainState::zero_grad() {
  if (mixed_) mixed_->zero_grad();
  optim_->zero_grad();
}

void TrainState::sum_across_ranks(std::vector<double>& values) {
  if (opt_.world_size > 1 && !sync_)
    throw Error("world_size is " + std::to_string(opt_.world_size) + " but nothing connects the ranks",
                "launch with fthost launch / torchrun so the ranks share label counts and gradients");
  if (sync_) sync_->sum(values);
}

UpdateStats TrainState::update() {
  UpdateStats u;
  u.loss_scale = loss_scale();
  if (mixed_) mixed_->unscale_grads();
  const NamedTensors& stepped = mixed_ ? mixed_->masters() : params_;
  if (sync_) {  // every rank, same order: named_parameters() order of the trainable parameters
    for (auto& kv : stepped) {
      // A parameter without a gradient on this rank still takes part in the sum (as zeros), so every
      // rank sums the same tensors in the same order.
      if (!kv.second.grad().defined()) kv.second.mutable_grad() = at::zeros_like(kv.second);
      at::Tensor g = kv.second.grad();
      sync_->sum(g);
    }
  }
  u.grad_norm = clip_grad_norm(stepped, opt_.max_grad_norm);
  u.lr = lr();
  u.applied = std::isfinite(u.grad_norm);
  u.overflow = !u.applied && mixed_ && mixed_->scaler();
  if (u.applied) {
    optim_->step(u.lr);
    if (mixed_) mixed_->copy_to_params();
  }
  if (mixed_) mixed_->record_step(!u.applied);
  zero_grad();
  ++step_;
  return u;
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

std::string TrainState::save(const nlohmann::json& extra, const NamedTensors& extra_tensors) {
  if (opt_.output.empty()) throw Error("save: the trainer was given no output folder");
  fs::make_dirs(opt_.output);
  // Leftovers of an interrupted save are never used; clear them.
  for (auto& n : list_dir(opt_.output))
    if (n.rfind(".checkpoint-", 0) == 0) fs::remove_all(opt_.output + "/" + n);
  const std::string name = "checkpoint-" + std::to_string(step_);
  const std::string final_dir = opt_.output + "/" + name;
  const std::string tmp = opt_.output + "/." + name + ".tmp." + std::to_string(::getpid());
  fs::make_dirs(tmp);
  NamedTensors tensors;
  // With mixed precision the fp32 masters are the parameters' exact values (the model holds them rounded).
  for (auto& kv : mixed_ ? mixed_->masters() : params_)
    tensors.emplace_back("param." + kv.first, kv.second.detach().cpu().contiguous());
  for (auto& kv : optim_->state())
    tensors.emplace_back("optimizer." + kv.first, kv.second.cpu().contiguous());
  for (auto& kv : extra_tensors)
    tensors.emplace_back("extra." + kv.first, kv.second.detach().cpu().contiguous());
  {
    at::Generator gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    tensors.emplace_back("rng.cpu", gen.get_state());
  }
  io::write_safetensors_file(tmp + "/state.safetensors", tensors, {{"format", "pt"}});
  nlohmann::json st = extra.is_object() ? extra : nlohmann::json::object();
  st["global_step"] = step_;
  st["total_steps"] = total_steps();
  st["seed"] = opt_.seed;
  st["optimizer"] = optim_->name();
  st["precision"] = precision_;
  if (mixed_ && mixed_->scaler()) st["loss_scaler"] = mixed_->scaler()->state();
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
      if (steps[i] != step_ && steps[i] != keep_step_)
        fs::remove_all(opt_.output + "/checkpoint-" + std::to_string(steps[i]));
  }
  return final_dir;
}

void TrainState::load_params(const std::string& dir, const std::map<std::string, at::Tensor>& sd) {
  torch::NoGradGuard ng;
  for (auto& kv : mixed_ ? mixed_->masters() : params_) {
    auto it = sd.find("param." + kv.first);
    if (it == sd.end())
      throw Error(dir + "/state.safetensors: missing parameter '" + kv.first + "'",
                  "the checkpoint was made with different trainable parameters (another LoRA config?)");
    if (it->second.sizes() != kv.second.sizes())
      throw Error(dir + "/state.safetensors: parameter '" + kv.first + "' has a different shape");
    kv.second.copy_(it->second);
  }
  if (mixed_) mixed_->copy_to_params();
}

void TrainState::load_weights(const std::string& dir) {
  load_params(dir, io::load_safetensors_file(dir + "/state.safetensors"));
}

nlohmann::json TrainState::load(const std::string& dir, std::map<std::string, at::Tensor>* extra) {
  nlohmann::json st;
  try {
    st = nlohmann::json::parse(fs::read_file(dir + "/trainer_state.json"));
  } catch (const nlohmann::json::exception& e) {
    throw Error(dir + "/trainer_state.json: invalid JSON (" + e.what() + ")");
  }
  auto sd = io::load_safetensors_file(dir + "/state.safetensors");
  load_params(dir, sd);
  // A checkpoint made at another precision has no scaler state: the scale starts afresh.
  if (mixed_ && mixed_->scaler() && st.contains("loss_scaler"))
    mixed_->scaler()->load_state(st["loss_scaler"]);
  std::map<std::string, at::Tensor> ost;
  for (auto& kv : sd)
    if (kv.first.rfind("optimizer.", 0) == 0) ost[kv.first.substr(10)] = kv.second;
  optim_->load_state(ost);
  if (extra)
    for (auto& kv : sd)
      if (kv.first.rfind("extra.", 0) == 0) (*extra)[kv.first.substr(6)] = kv.second;
  auto rng = sd.find("rng.cpu");
  if (rng == sd.end()) throw Error(dir + "/state.safetensors: missing 'rng.cpu'");
  at::Generator gen = at::detail::getDefaultCPUGenerator();  // shares the global generator
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(rng->second.clone());
  step_ = st.at("global_step").get<int64_t>();
  return st;
}

}  // namespace ft::train
