// GRPO trainer: rollouts, the per-rollout optimizer steps, the reference policy and checkpoints (see
// grpo.h).
#include "train/grpo.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/interrupt.h"
#include "data/batch.h"
#include "train/lora.h"

namespace ft::train {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The rollout seed of a step: the same (seed, step) always samples the same completions.
uint64_t rollout_seed(uint64_t seed, int64_t step) {
  uint64_t s = seed ^ (static_cast<uint64_t>(step) * 0xD1B54A32D192ED03ull);
  return data::splitmix64(s);
}

// Disables the LoRA adapters for the lifetime of the guard (the reference policy), even on exceptions.
class AdaptersOff {
 public:
  explicit AdaptersOff(model::Model& m) : m_(m) { set_lora_enabled(m_, false); }
  ~AdaptersOff() { set_lora_enabled(m_, true); }
  AdaptersOff(const AdaptersOff&) = delete;
  AdaptersOff& operator=(const AdaptersOff&) = delete;

 private:
  model::Model& m_;
};

// Puts a module in eval mode (no dropout) for the lifetime of the guard, restoring training mode after.
class EvalMode {
 public:
  explicit EvalMode(torch::nn::Module& m) : m_(m), was_training_(m.is_training()) { m_.eval(); }
  ~EvalMode() {
    if (was_training_) m_.train();
  }
  EvalMode(const EvalMode&) = delete;
  EvalMode& operator=(const EvalMode&) = delete;

 private:
  torch::nn::Module& m_;
  bool was_training_;
};

}  // namespace

int64_t Rollout::bytes() const {
  int64_t n = 0;
  for (const auto& t : {old_logps, ref_logps})
    if (t.defined()) n += static_cast<int64_t>(t.nbytes());
  for (const auto& c : completions) n += static_cast<int64_t>(c.size() * sizeof(text::TokenId));
  for (const auto& t : text) n += static_cast<int64_t>(t.size());
  return n;
}

GrpoTrainer::GrpoTrainer(std::shared_ptr<model::Model> m, const GrpoOptions& o) : m_(std::move(m)), opt_(o) {
  if (!m_) throw Error("ft.grpo: no model given");
  if (opt_.epsilon_high < 0) opt_.epsilon_high = opt_.epsilon;
  const int64_t G = opt_.num_generations;
  if (G < 2)
    throw Error("num_generations must be >= 2, found " + std::to_string(G),
                "GRPO compares the completions of one prompt with each other; TRL's default is 8");
  if (opt_.batch_size < 1) throw Error("batch_size must be >= 1, found " + std::to_string(opt_.batch_size));
  if (opt_.grad_accum < 1) throw Error("grad_accum must be >= 1, found " + std::to_string(opt_.grad_accum));
  if (opt_.num_iterations < 1)
    throw Error("num_iterations must be >= 1, found " + std::to_string(opt_.num_iterations));
  if (opt_.logps_chunk_rows < 0)
    throw Error("logps_chunk_rows must be >= 0 (0: whole micro-batches), found " +
                std::to_string(opt_.logps_chunk_rows));
  if (opt_.max_completion_len < 1)
    throw Error("max_completion_len must be >= 1, found " + std::to_string(opt_.max_completion_len));
  if (opt_.max_steps < 1)
    throw Error("max_steps must be >= 1 for GRPO, found " + std::to_string(opt_.max_steps),
                "give the number of optimizer steps to train (each rollout gives num_iterations of them)");
  const int64_t global = static_cast<int64_t>(opt_.world_size) * opt_.batch_size * opt_.grad_accum;
  if (global % G != 0)
    throw Error("(processes x per-device batch x grad_accum) must be divisible by num_generations: " +
                    std::to_string(opt_.world_size) + " x " + std::to_string(opt_.batch_size) + " x " +
                    std::to_string(opt_.grad_accum) + " = " + std::to_string(global) +
                    " is not divisible by " + std::to_string(G),
                "every prompt's " + std::to_string(G) +
                    " completions must land in the same step; e.g. batch_size = " + std::to_string(G));
  if ((opt_.batch_size * opt_.grad_accum) % G != 0)
    throw Error("per-device batch x grad_accum (" + std::to_string(opt_.batch_size * opt_.grad_accum) +
                    ") must be divisible by num_generations (" + std::to_string(G) + ") on each process",
                "groups split across processes are not supported; raise batch_size or grad_accum");
  prompts_per_step_ = opt_.batch_size * opt_.grad_accum / G;
  check_scale_rewards(opt_.scale_rewards);
  loss_.loss = opt_.loss;
  loss_.epsilon = opt_.epsilon;
  loss_.epsilon_high = opt_.epsilon_high;
  loss_.beta = opt_.beta;
  loss_.max_completion_len = opt_.max_completion_len;
  loss_.grad_accum = opt_.grad_accum;
  check_loss_options(loss_);

  const auto& tok = m_->tokenizer;
  const auto& cfg = m_->config();
  if (cfg.pad_token_id)
    pad_id_ = *cfg.pad_token_id;
  else if (tok && tok->pad_id)
    pad_id_ = *tok->pad_id;
  else if (tok && tok->eos_id)
    pad_id_ = *tok->eos_id;

  if (opt_.beta != 0) {
    bool only_adapters = !lora_targets(*m_).empty();
    for (auto& p : trainable_parameters(*m_))
      if (p.first.find(".lora.lora_") == std::string::npos) only_adapters = false;
    if (only_adapters) {
      ref_kind_ = "adapters_disabled";
    } else {
      // A frozen copy of the base weights as they are now (adapters, if any, are left out: with
      // modules_to_save the copy keeps those modules' current values).
      std::map<std::string, at::Tensor> sd;
      for (auto& kv : m_->state_dict()) sd.emplace(kv.first, kv.second.detach());
      ref_ = model::Model::from_state_dict(m_->config(), sd, m_->tokenizer, "the GRPO reference policy");
      const c10::Device dev = opt_.ref_device.empty() ? m_->device() : c10::Device(opt_.ref_device);
      ref_->to(dev, m_->dtype());
      for (auto& p : ref_->lm->parameters()) p.set_requires_grad(false);
      ref_->lm->eval();
      ref_kind_ = "copy";
    }
  }
  state_ = std::make_unique<TrainState>(m_, opt_, opt_.max_steps);
}

std::vector<int64_t> GrpoTrainer::prompt_indices(int64_t num_rows) const {
  if (num_rows < prompts_per_step_ * opt_.world_size)
    throw Error("the dataset has " + std::to_string(num_rows) + " prompts, fewer than one step needs (" +
                    std::to_string(prompts_per_step_ * opt_.world_size) + ")",
                "add prompts, or lower batch_size x grad_accum / num_generations");
  data::Sampler s(num_rows,
                  data::SamplerOptions{prompts_per_step_, opt_.seed, true, opt_.rank, opt_.world_size});
  return s.batch(global_step() / opt_.num_iterations);
}

PackedBatch GrpoTrainer::pack(const Rollout& r, int64_t begin, int64_t end, c10::Device device) const {
  std::vector<const std::vector<text::TokenId>*> p, c;
  for (int64_t i = begin; i < end; ++i) {
    p.push_back(&r.prompts[static_cast<size_t>(i / r.G)]);
    c.push_back(&r.completions[static_cast<size_t>(i)]);
  }
  return pack_samples(p, c, pad_id_, device);
}

at::Tensor GrpoTrainer::rollout_logps(model::CausalLM& lm, const Rollout& r) {
  torch::NoGradGuard ng;
  EvalMode eval(*lm);
  const int64_t N = r.size();
  int64_t cmax = 1;
  for (const auto& c : r.completions) cmax = std::max<int64_t>(cmax, static_cast<int64_t>(c.size()));
  at::Tensor out = at::zeros({N, cmax}, at::kFloat);
  const c10::Device dev = lm->model->embed_tokens->weight.device();
  const int64_t chunk = opt_.logps_chunk_rows > 0 ? opt_.logps_chunk_rows : opt_.batch_size;
  for (int64_t b = 0; b < N; b += chunk) {
    check_interrupt();
    const int64_t e = std::min(N, b + chunk);
    PackedBatch pb = pack(r, b, e, dev);
    at::Tensor lp = completion_logps(lm, pb, opt_.sampling.temperature, false).logps;
    lp = (lp * pb.completion_mask).to(at::kCPU);
    out.narrow(0, b, e - b).narrow(1, 0, lp.size(1)).copy_(lp);
  }
  return out;
}

at::Tensor GrpoTrainer::reference_logps(const Rollout& r) {
  if (ref_kind_ == "copy") return rollout_logps(ref_->lm, r);
  AdaptersOff off(*m_);
  return rollout_logps(m_->lm, r);
}

std::shared_ptr<Rollout> GrpoTrainer::rollout(const std::vector<std::vector<text::TokenId>>& prompts) {
  if (static_cast<int64_t>(prompts.size()) != prompts_per_step_)
    throw Error("rollout: expected " + std::to_string(prompts_per_step_) +
                    " prompts (batch_size x grad_accum / num_generations = " +
                    std::to_string(opt_.batch_size) + " x " + std::to_string(opt_.grad_accum) + " / " +
                    std::to_string(opt_.num_generations) + "), found " + std::to_string(prompts.size()),
                "prompt_indices() gives the dataset rows of the current step");
  // A finished run still generates (evaluation after training); train() refuses.
  auto t0 = std::chrono::steady_clock::now();
  auto r = std::make_shared<Rollout>();
  r->step = global_step();
  r->num_prompts = prompts_per_step_;
  r->G = opt_.num_generations;
  for (const auto& p : prompts) {
    if (opt_.max_prompt_len > 0 && static_cast<int64_t>(p.size()) > opt_.max_prompt_len) {
      r->prompts.emplace_back(p.end() - opt_.max_prompt_len, p.end());
      ++r->prompts_truncated;
    } else {
      r->prompts.push_back(p);
    }
  }
  model::GenerateOptions g;
  g.max_new_tokens = opt_.max_completion_len;
  g.sampling = opt_.sampling;
  g.eos_ids = opt_.eos_ids;
  g.stop = opt_.stop;
  g.seed = rollout_seed(opt_.seed, r->step);
  g.skip_special_tokens = opt_.skip_special_tokens;
  model::GenerateResult res;
  {
    EvalMode eval(*m_->lm);
    res = model::generate_groups(m_->lm, m_->tokenizer.get(), r->prompts, r->G, opt_.share_prompt_cache, g);
  }
  r->completions = std::move(res.ids);
  r->text = std::move(res.text);
  r->finish_reason = std::move(res.finish_reason);
  r->generation = res.stats;
  for (const auto& f : r->finish_reason) r->truncated.push_back(f == "length");
  r->seconds_generate = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  if (opt_.num_iterations > 1) r->old_logps = rollout_logps(m_->lm, *r);
  if (opt_.beta != 0) r->ref_logps = reference_logps(*r);
  r->seconds_logps = seconds_since(t0);
  return r;
}

std::vector<GrpoStepStats> GrpoTrainer::train(Rollout& r, const std::vector<double>& rewards) {
  const int64_t N = r.size();
  if (r.G != opt_.num_generations || r.num_prompts != prompts_per_step_)
    throw Error("train: the rollout does not come from this trainer (its shape differs)");
  if (r.trained)
    throw Error("train: this rollout was already trained on (num_iterations steps per rollout)",
                "make a new rollout for the next step");
  if (static_cast<int64_t>(rewards.size()) != N)
    throw Error("train: expected one reward per completion (" + std::to_string(N) + "), found " +
                std::to_string(rewards.size()));
  for (size_t i = 0; i < rewards.size(); ++i)
    if (std::isinf(rewards[i]))
      throw Error("train: the reward of completion " + std::to_string(i + 1) + " (prompt " +
                      std::to_string(i / static_cast<size_t>(r.G) + 1) + ", sample " +
                      std::to_string(i % static_cast<size_t>(r.G) + 1) + ") is infinite",
                  "reward functions must return finite numbers (or nil)");
  if (done())
    throw Error("train: training is finished (" + std::to_string(global_step()) + " of " +
                    std::to_string(total_steps()) + " steps)",
                "raise max_steps to train further");
  // Counts over every data-parallel rank (identity with one process; an error for world_size > 1
  // without a RankSync): dapo's completion tokens, and the batch reward std for scale_rewards "batch".
  std::vector<double> global = {0};
  for (const auto& c : r.completions) global[0] += static_cast<double>(c.size());
  const bool batch_across = opt_.scale_rewards == "batch" && opt_.world_size > 1;
  if (batch_across) {
    global.insert(global.end(), {0, 0, 0});
    for (double v : rewards)
      if (!std::isnan(v)) global[1] += 1, global[2] += v, global[3] += v * v;
  }
  state_->sum_across_ranks(global);
  std::optional<double> batch_std;
  if (batch_across) {
    const double n = global[1];
    batch_std = n < 2 ? 0.0 : std::sqrt(std::max(0.0, global[3] - global[2] * global[2] / n) / (n - 1));
  }
  r.trained = true;
  const Advantages adv = compute_advantages(rewards, r.G, opt_.scale_rewards, batch_std);
  r.advantages = adv.values;
  at::Tensor adv_t = at::tensor(std::vector<float>(adv.values.begin(), adv.values.end()), at::kFloat);

  // Per-sample loss weight: 0 for truncated completions when they are masked. dapo divides by every
  // completion token of the step, masked ones included (TRL counts num_items_in_batch before masking).
  std::vector<float> keep(static_cast<size_t>(N), 1.0f);
  double loss_tokens = 0;
  GrpoStepStats base;
  base.completion_len_min = std::numeric_limits<int64_t>::max();
  int64_t truncated = 0;
  for (int64_t i = 0; i < N; ++i) {
    const auto len = static_cast<int64_t>(r.completions[i].size());
    if (opt_.mask_truncated_completions && r.truncated[i]) keep[i] = 0.0f;
    loss_tokens += keep[i] * static_cast<double>(len);
    truncated += r.truncated[i] ? 1 : 0;
    base.completion_len_mean += static_cast<double>(len) / static_cast<double>(N);
    base.completion_len_min = std::min(base.completion_len_min, len);
    base.completion_len_max = std::max(base.completion_len_max, len);
  }
  at::Tensor keep_t = at::tensor(keep, at::kFloat);
  base.truncated_frac = static_cast<double>(truncated) / static_cast<double>(N);
  base.reward_mean = adv.reward_mean;
  base.reward_std = adv.reward_std;
  base.frac_reward_zero_std = adv.frac_reward_zero_std;
  base.nil_rewards = adv.nil_samples;
  base.loss_tokens = static_cast<int64_t>(loss_tokens);
  LossOptions lo = loss_;
  lo.dapo_tokens = global[0];
  lo.world_size = opt_.world_size;

  const c10::Device dev = m_->device();
  const int64_t chunk = opt_.logps_chunk_rows > 0 ? opt_.logps_chunk_rows : opt_.batch_size;
  std::vector<GrpoStepStats> out;
  // An interrupt (Ctrl-C) before the first update leaves the rollout trainable again; gradients of a
  // half-done step are dropped.
  try {
    for (int64_t it = 0; it < opt_.num_iterations && !done(); ++it) {
      auto t0 = std::chrono::steady_clock::now();
      GrpoStepStats s = base;
      s.iteration = it;
      s.seconds_rollout = it == 0 ? r.seconds_generate + r.seconds_logps : 0.0;
      m_->lm->train();
      state_->zero_grad();
      double tok_sum = 0;
      for (int64_t k = 0; k < opt_.grad_accum; ++k) {
        const int64_t mb0 = k * opt_.batch_size, mb1 = std::min(N, mb0 + opt_.batch_size);
        LossOptions lc = lo;
        lc.batch_rows = mb1 - mb0;
        lc.batch_tokens = 0;
        for (int64_t i = mb0; i < mb1; ++i)
          lc.batch_tokens += keep[i] * static_cast<double>(r.completions[i].size());
        for (int64_t b = mb0; b < mb1; b += chunk) {
          check_interrupt();
          const int64_t e = std::min(mb1, b + chunk);
          PackedBatch pb = pack(r, b, e, dev);
          TokenLogps lp = completion_logps(m_->lm, pb, opt_.sampling.temperature, true);
          const int64_t C = pb.completion_mask.size(1);
          auto slice = [&](const at::Tensor& t) {
            return t.defined() ? t.narrow(0, b, e - b).narrow(1, 0, C).to(dev) : at::Tensor();
          };
          at::Tensor mask = pb.completion_mask * keep_t.narrow(0, b, e - b).to(dev).unsqueeze(1);
          LossStats ls;
          at::Tensor loss = grpo_loss(lp.logps, slice(r.old_logps), slice(r.ref_logps),
                                      adv_t.narrow(0, b, e - b), mask, lp.entropy, lc, &ls);
          state_->backward(loss);
          s.loss += ls.loss;
          s.kl += ls.kl * ls.tokens;
          s.entropy += ls.entropy * ls.tokens;
          s.clip_low += ls.clip_low * ls.tokens;
          s.clip_high += ls.clip_high * ls.tokens;
          s.clip_region += ls.clip_region * ls.tokens;
          tok_sum += ls.tokens;
        }
      }
      const double d = std::max(1.0, tok_sum);
      s.kl /= d;
      s.entropy /= d;
      s.clip_low /= d;
      s.clip_high /= d;
      s.clip_region /= d;
      UpdateStats u = state_->update();
      std::vector<double> loss{s.loss};
      state_->sum_across_ranks(loss);  // the logged loss is the global one
      s.loss = loss[0];
      s.grad_norm = u.grad_norm;
      s.lr = u.lr;
      s.applied = u.applied;
      s.step = global_step();
      s.seconds_train = seconds_since(t0);
      out.push_back(s);
    }
  } catch (...) {
    state_->zero_grad();
    if (out.empty()) r.trained = false;
    throw;
  }
  return out;
}

std::string GrpoTrainer::save(const nlohmann::json& extra) {
  if (opt_.output.empty()) throw Error("save: ft.grpo was given no output folder");
  nlohmann::json st;
  st["trainer"] = "grpo";
  st["num_generations"] = opt_.num_generations;
  st["prompts_per_step"] = prompts_per_step_;
  st["num_iterations"] = opt_.num_iterations;
  st["loss_type"] = opt_.loss;
  st["beta"] = opt_.beta;
  if (!extra.is_null()) st["extra"] = extra;
  return state_->save(st);
}

nlohmann::json GrpoTrainer::load(const std::string& dir) {
  nlohmann::json st = state_->load(dir);
  return st.contains("extra") ? st["extra"] : nlohmann::json();
}

int64_t GrpoTrainer::resume(nlohmann::json* extra) {
  if (opt_.output.empty()) return 0;
  const std::string dir = latest_checkpoint(opt_.output);
  if (dir.empty()) return 0;
  nlohmann::json e = load(dir);
  if (extra) *extra = e;
  return global_step();
}

}  // namespace ft::train
