// GRPO engine: advantages for each scale_rewards mode (nil rewards, all-nil groups), the loss of each
// aggregation against hand-computed values (clipping on both sides, the k3 KL estimate, gradients),
// completion log-probs against unpadded forwards, prompt-shared rollouts (same greedy tokens as unshared,
// a fraction of the prefill work, per-sequence EOS), and the trainer: divisibility error, truncation
// masking, num_iterations > 1, reference policies, and checkpoint resume giving identical next steps.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cmath>
#include <limits>
#include <map>
#include <thread>

#include "../train/fake_rank_sync.h"
#include "../train/fixtures.h"
#include "core/error.h"
#include "core/fs.h"
#include "core/interrupt.h"
#include "train/grpo.h"
#include "train/lora.h"

using namespace ft;
using train::GrpoOptions;
using train::GrpoTrainer;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::shared_ptr<model::Model> tiny(uint64_t seed = 5) {
  return ft::test::tiny_lm(seed, 0.1);
}

std::string tmpdir(const std::string& name) {
  std::string d = "/tmp/ft_grpo_test_" + std::to_string(::getpid()) + "_" + name;
  fs::remove_all(d);
  return d;
}

bool close(double a, double b, double tol = 1e-5) {
  return std::abs(a - b) <= tol * std::max(1.0, std::abs(b));
}

std::vector<std::vector<int32_t>> prompts_of(int n) {
  std::vector<std::vector<int32_t>> p;
  for (int i = 0; i < n; ++i) {
    std::vector<int32_t> ids = {256};
    for (int j = 0; j <= i % 3; ++j) ids.push_back(65 + i + j);
    p.push_back(ids);
  }
  return p;
}

GrpoOptions small_options() {
  GrpoOptions o;
  o.num_generations = 4;
  o.batch_size = 4;
  o.grad_accum = 2;
  o.max_completion_len = 6;
  o.max_steps = 4;
  o.eos_ids = std::vector<int32_t>{};
  o.seed = 11;
  o.schedule.lr = 1e-2;
  o.schedule.kind = "constant";
  return o;
}

// Rewards that favour completions starting with an even byte: varied within groups.
std::vector<double> parity_rewards(const train::Rollout& r) {
  std::vector<double> out;
  for (const auto& c : r.completions) out.push_back(!c.empty() && c[0] % 2 == 0 ? 1.0 : 0.0);
  return out;
}

// A hand-made rollout of the given groups: group 0 = completions of lengths 2, 3, 1, 2 ended by EOS (257),
// group 1 = four 6-token completions cut at the length limit.
train::Rollout hand_rollout(const std::vector<int>& groups) {
  const std::vector<std::vector<int32_t>> prompts = {{256, 72}, {256, 40, 41}};
  const std::vector<std::vector<std::vector<int32_t>>> comps = {
      {{10, 257}, {11, 12, 257}, {257}, {13, 257}},
      {{1, 2, 3, 4, 5, 6}, {1, 2, 3, 4, 5, 7}, {1, 2, 3, 4, 5, 8}, {1, 2, 3, 4, 5, 9}}};
  train::Rollout r;
  r.G = 4;
  for (int g : groups) {
    ++r.num_prompts;
    r.prompts.push_back(prompts[g]);
    for (const auto& c : comps[g]) {
      r.completions.push_back(c);
      r.finish_reason.push_back(g == 0 ? "eos" : "length");
      r.truncated.push_back(g == 1);
      r.text.emplace_back();
    }
  }
  return r;
}

}  // namespace

// ---- advantages -----------------------------------------------------------------------------------
BOOST_AUTO_TEST_CASE(advantages_group_batch_none) {
  const std::vector<double> r = {1, 0, 0, 1, 2, 2, 2, 2};
  // group 1: mean 0.5, unbiased std sqrt(1/3); group 2: std 0.
  const double s1 = std::sqrt(1.0 / 3.0);
  auto g = train::compute_advantages(r, 4, "group");
  BOOST_TEST(close(g.values[0], 0.5 / (s1 + 1e-4)));
  BOOST_TEST(close(g.values[1], -0.5 / (s1 + 1e-4)));
  for (int i = 4; i < 8; ++i) BOOST_TEST(g.values[i] == 0.0);
  BOOST_TEST(g.frac_reward_zero_std == 0.5);
  BOOST_TEST(close(g.reward_mean, 1.25));
  BOOST_TEST(close(g.reward_std, s1 / 2));  // mean over samples of their group's std
  // batch: group means, batch std: mean 1.25, var = (2*.0625 + 2*1.5625 + 4*.5625) / 7.
  const double sb = std::sqrt(5.5 / 7.0);
  auto b = train::compute_advantages(r, 4, "batch");
  BOOST_TEST(close(b.values[0], 0.5 / (sb + 1e-4)));
  BOOST_TEST(close(b.values[2], -0.5 / (sb + 1e-4)));
  BOOST_TEST(b.values[5] == 0.0);
  BOOST_TEST(b.frac_reward_zero_std == 0.0);
  BOOST_TEST(close(b.reward_std, sb));
  // none: centred only (Dr. GRPO); the group std is still what is logged.
  auto n = train::compute_advantages(r, 4, "none");
  BOOST_TEST(n.values[0] == 0.5);
  BOOST_TEST(n.values[1] == -0.5);
  BOOST_TEST(n.values[6] == 0.0);
  BOOST_TEST(n.frac_reward_zero_std == 0.5);
  BOOST_CHECK_EXCEPTION(train::compute_advantages(r, 4, "groups"), Error, [](const Error& e) {
    return std::string(e.what()).find(
               "scale_rewards must be \"group\", \"batch\" or \"none\", found \"groups\"") !=
           std::string::npos;
  });
  BOOST_CHECK_THROW(train::compute_advantages(r, 3, "group"), Error);
}

BOOST_AUTO_TEST_CASE(advantages_nil_rewards_and_all_nil_groups) {
  // Group 1: two nil samples are left out of mean (2) and std (sqrt 2) and get advantage 0.
  // Group 2: every sample nil: all 0, std 0.
  const std::vector<double> r = {kNaN, 1, 3, kNaN, kNaN, kNaN, kNaN, kNaN};
  auto a = train::compute_advantages(r, 4, "group");
  const double s = std::sqrt(2.0);
  BOOST_TEST(a.values[0] == 0.0);
  BOOST_TEST(close(a.values[1], -1.0 / (s + 1e-4)));
  BOOST_TEST(close(a.values[2], 1.0 / (s + 1e-4)));
  BOOST_TEST(a.values[3] == 0.0);
  for (int i = 4; i < 8; ++i) BOOST_TEST(a.values[i] == 0.0);
  BOOST_TEST(a.nil_samples == 6);
  BOOST_TEST(a.frac_reward_zero_std == 0.5);
  BOOST_TEST(close(a.reward_mean, 2.0));
  // One rewarded sample in a group: no spread to learn from, advantage 0.
  auto one = train::compute_advantages({kNaN, 5, kNaN, kNaN}, 4, "group");
  for (double v : one.values) BOOST_TEST(v == 0.0);
  BOOST_TEST(one.frac_reward_zero_std == 1.0);
  for (const char* mode : {"batch", "none"}) {
    auto m = train::compute_advantages(r, 4, mode);
    BOOST_TEST(m.values[0] == 0.0, mode);
    BOOST_TEST(m.values[5] == 0.0, mode);
    BOOST_TEST(std::isfinite(m.values[1]), mode);
  }
}

// ---- loss -----------------------------------------------------------------------------------------
namespace {
// Two rows of two tokens. Ratios: [[1.5, 1], [0.5, 0.625]]; advantages [+1, -1]; the last token masked.
// With epsilon 0.2 / epsilon_high 0.28: token (0,0) is clipped high (1.5 -> 1.28), token (1,0) low
// (0.5 -> 0.8). Per-token losses -min(rho A, clip(rho) A): [[-1.28, -1], [0.8, (masked)]], sum -1.48.
struct LossCase {
  at::Tensor logps =
      at::log(at::tensor({0.6, 0.25, 0.25, 0.5}, at::kFloat)).view({2, 2}).requires_grad_(true);
  at::Tensor old = at::log(at::tensor({0.4, 0.25, 0.5, 0.8}, at::kFloat)).view({2, 2});
  at::Tensor ref = at::log(at::tensor({0.5, 0.25, 0.25, 0.5}, at::kFloat)).view({2, 2});
  at::Tensor adv = at::tensor({1.0f, -1.0f});
  at::Tensor mask = at::tensor({1.0f, 1.0f, 1.0f, 0.0f}).view({2, 2});
  train::LossOptions opt() const {
    train::LossOptions o;
    o.epsilon = 0.2;
    o.epsilon_high = 0.28;
    o.max_completion_len = 4;
    o.dapo_tokens = 6;  // the accumulated batch has 6 loss tokens in all
    return o;
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(loss_modes_match_hand_computed_values) {
  LossCase c;
  const std::vector<std::pair<std::string, double>> expected = {
      {"grpo", ((-1.28 - 1.0) / 2 + 0.8) / 2},  // per-sequence means, then the mean over sequences
      {"bnpo", -1.48 / 3},                      // tokens of this micro-batch
      {"dr_grpo", -1.48 / (2 * 4)},             // rows x max_completion_len
      {"dapo", -1.48 / 6}};                     // tokens of the whole accumulated batch
  for (const auto& [mode, value] : expected) {
    for (int64_t accum : {1, 2}) {
      auto o = c.opt();
      o.loss = mode;
      o.grad_accum = accum;
      train::LossStats st;
      at::Tensor loss = train::grpo_loss(c.logps, c.old, at::Tensor(), c.adv, c.mask, at::Tensor(), o, &st);
      // grpo/bnpo/dr_grpo are per-micro-batch means divided by grad_accum; dapo's denominator already
      // counts the whole accumulated batch.
      const double want = mode == "dapo" ? value : value / static_cast<double>(accum);
      BOOST_TEST(close(loss.item<double>(), want), mode << " accum " << accum << ": " << loss.item<double>());
      BOOST_TEST(close(st.loss, want));
      BOOST_TEST(st.tokens == 3.0);
      BOOST_TEST(close(st.clip_low, 1.0 / 3), mode);
      BOOST_TEST(close(st.clip_high, 1.0 / 3), mode);
      BOOST_TEST(close(st.clip_region, 2.0 / 3), mode);
      BOOST_TEST(st.kl == 0.0);
    }
  }
  BOOST_CHECK_EXCEPTION(
      [&] {
        auto o = c.opt();
        o.loss = "ppo";
        train::check_loss_options(o);
      }(),
      Error,
      [](const Error& e) {
        return std::string(e.what()).find("grpo, bnpo, dr_grpo, dapo") != std::string::npos;
      });
}

BOOST_AUTO_TEST_CASE(row_chunks_add_up_to_the_micro_batch_loss) {
  LossCase c;
  for (const char* mode : {"grpo", "bnpo", "dr_grpo", "dapo"}) {
    auto o = c.opt();
    o.loss = mode;
    o.grad_accum = 2;
    o.beta = 0.1;
    const double whole =
        train::grpo_loss(c.logps, c.old, c.ref, c.adv, c.mask, at::Tensor(), o, nullptr).item<double>();
    o.batch_rows = 2;
    o.batch_tokens = 3;
    double chunks = 0;
    for (int64_t row : {0, 1}) {
      auto one = [&](const at::Tensor& t) { return t.narrow(0, row, 1); };
      chunks += train::grpo_loss(one(c.logps), one(c.old), one(c.ref), c.adv.narrow(0, row, 1), one(c.mask),
                                 at::Tensor(), o, nullptr)
                    .item<double>();
    }
    BOOST_TEST(close(chunks, whole), mode << ": " << chunks << " vs " << whole);
  }
}

BOOST_AUTO_TEST_CASE(clipped_tokens_get_no_gradient_and_kl_is_k3) {
  LossCase c;
  auto o = c.opt();
  o.loss = "dapo";
  at::Tensor loss = train::grpo_loss(c.logps, c.old, at::Tensor(), c.adv, c.mask, at::Tensor(), o, nullptr);
  loss.backward();
  // Clipped tokens (0,0) and (1,0) carry no gradient; (0,1) (ratio 1, A = +1) gets -1/6; masked (1,1) 0.
  auto g = c.logps.grad();
  BOOST_TEST(g[0][0].item<float>() == 0.0f);
  BOOST_TEST(close(g[0][1].item<double>(), -1.0 / 6));
  BOOST_TEST(g[1][0].item<float>() == 0.0f);
  BOOST_TEST(g[1][1].item<float>() == 0.0f);

  // KL: only token (0,0) has ref != logp: d = ln(0.5/0.6); exp(d) - d - 1 = 0.8333.. + 0.18232.. - 1.
  LossCase k;
  auto ok = k.opt();
  ok.loss = "bnpo";
  ok.beta = 0.1;
  const double d = std::log(0.5 / 0.6);
  const double kl = std::exp(d) - d - 1;
  BOOST_TEST(close(kl, 0.0156549, 1e-4));
  train::LossStats st;
  at::Tensor l2 = train::grpo_loss(k.logps, k.old, k.ref, k.adv, k.mask, at::Tensor(), ok, &st);
  BOOST_TEST(close(st.kl, kl / 3));
  BOOST_TEST(close(l2.item<double>(), (-1.48 + 0.1 * kl) / 3));
  l2.backward();
  // d/dlogp of beta * (exp(ref - logp) - (ref - logp) - 1) = beta * (1 - exp(ref - logp)); clipped surrogate:
  // 0.
  BOOST_TEST(close(k.logps.grad()[0][0].item<double>(), 0.1 * (1 - std::exp(d)) / 3));
  // beta != 0 without reference log-probs is an error, not a silent KL of 0.
  BOOST_CHECK_THROW(train::grpo_loss(k.logps, k.old, at::Tensor(), k.adv, k.mask, at::Tensor(), ok, nullptr),
                    Error);
}

BOOST_AUTO_TEST_CASE(ratio_is_one_without_old_logps) {
  LossCase c;
  auto o = c.opt();
  o.loss = "bnpo";
  train::LossStats st;
  at::Tensor loss =
      train::grpo_loss(c.logps, at::Tensor(), at::Tensor(), c.adv, c.mask, at::Tensor(), o, &st);
  // rho = 1 everywhere: per-token -A -> [[-1, -1], [1, masked]] -> -1 / 3; nothing clipped.
  BOOST_TEST(close(loss.item<double>(), -1.0 / 3));
  BOOST_TEST(st.clip_region == 0.0);
  loss.backward();
  BOOST_TEST(close(c.logps.grad()[0][0].item<double>(), -1.0 / 3));
  BOOST_TEST(close(c.logps.grad()[1][0].item<double>(), 1.0 / 3));
}

// ---- log-probs ------------------------------------------------------------------------------------
BOOST_AUTO_TEST_CASE(completion_logps_equal_unpadded_forwards) {
  auto m = tiny();
  torch::NoGradGuard ng;
  m->lm->eval();
  std::vector<std::vector<int32_t>> p = {{256, 70, 71, 72}, {256, 80}};
  std::vector<std::vector<int32_t>> c = {{90}, {91, 92, 93, 94}};
  auto pb = train::pack_samples({&p[0], &p[1]}, {&c[0], &c[1]}, 258, at::kCPU);
  BOOST_TEST(pb.prompt_len == 4);
  BOOST_TEST((pb.completion_mask.sum(1).to(at::kLong).equal(at::tensor({1, 4}, at::kLong))));
  for (double temp : {1.0, 0.7}) {
    auto lp = train::completion_logps(m->lm, pb, temp, true);
    BOOST_TEST((lp.logps.sizes() == at::IntArrayRef{2, 4}));
    for (int b = 0; b < 2; ++b) {
      std::vector<int64_t> seq(p[b].begin(), p[b].end());
      seq.insert(seq.end(), c[b].begin(), c[b].end());
      model::ForwardInput in;
      in.input_ids = at::tensor(seq, at::kLong).view({1, -1});
      auto logits = m->forward(in)[0].to(at::kFloat) / temp;
      auto logp = logits.log_softmax(-1);
      for (size_t t = 0; t < c[b].size(); ++t) {
        const int64_t pos = static_cast<int64_t>(p[b].size() + t) - 1;
        const double want = logp[pos][c[b][t]].item<double>();
        BOOST_TEST(close(lp.logps[b][t].item<double>(), want, 1e-4), "row " << b << " token " << t);
        auto pr = logp[pos].exp();
        const double ent = -(pr * logp[pos]).sum().item<double>();
        BOOST_TEST(close(lp.entropy[b][t].item<double>(), ent, 1e-4));
      }
    }
  }
}

// ---- rollouts -------------------------------------------------------------------------------------
BOOST_AUTO_TEST_CASE(shared_prompt_cache_gives_the_unshared_tokens_with_less_prefill) {
  auto m = tiny(7);
  std::vector<std::vector<int32_t>> prompts = {
      {256, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {256, 72}, {256, 40, 41, 42}};
  model::GenerateOptions g;
  g.max_new_tokens = 12;
  g.sampling.temperature = 0;
  g.eos_ids = std::vector<int32_t>{};
  const int64_t G = 4;
  auto shared = model::generate_groups(m->lm, m->tokenizer.get(), prompts, G, true, g);
  auto unshared = model::generate_groups(m->lm, m->tokenizer.get(), prompts, G, false, g);
  BOOST_REQUIRE(shared.ids.size() == 12u);
  for (size_t i = 0; i < shared.ids.size(); ++i) {
    BOOST_TEST(shared.ids[i] == unshared.ids[i], "sample " << i);
    BOOST_TEST(shared.ids[i] == m->generate_ids({prompts[i / G]}, g).ids[0]);  // each equals the prompt alone
  }
  BOOST_TEST(shared.stats.prefill_rows == 3);
  BOOST_TEST(unshared.stats.prefill_rows == 12);
  BOOST_TEST(shared.stats.prefill_positions * G == unshared.stats.prefill_positions);
  BOOST_TEST(shared.stats.decode_rows == 12 * 11);

  // Sampling with a seed: the G samples of a prompt differ, and the same seed repeats them.
  g.sampling.temperature = 1.0;
  g.seed = 3;
  auto s1 = model::generate_groups(m->lm, m->tokenizer.get(), prompts, G, true, g);
  auto s2 = model::generate_groups(m->lm, m->tokenizer.get(), prompts, G, true, g);
  BOOST_TEST(s1.ids == s2.ids);
  BOOST_TEST(s1.ids[0] != s1.ids[1]);
}

BOOST_AUTO_TEST_CASE(rollout_rows_stop_on_eos_and_leave_the_batch) {
  auto m = tiny(7);
  std::vector<std::vector<int32_t>> prompts = {{256, 72}, {256, 40, 41, 42}};
  model::GenerateOptions g;
  g.max_new_tokens = 10;
  g.sampling.temperature = 0;
  g.eos_ids = std::vector<int32_t>{};
  auto free_run = model::generate_groups(m->lm, m->tokenizer.get(), prompts, 2, true, g);
  // EOS = the 3rd greedy token of prompt 1, provided prompt 2 never emits it in its first 10 tokens.
  const int32_t eos = free_run.ids[0][2];
  const auto& other = free_run.ids[2];
  BOOST_REQUIRE(std::find(other.begin(), other.end(), eos) == other.end());
  const auto first = std::find(free_run.ids[0].begin(), free_run.ids[0].end(), eos) - free_run.ids[0].begin();
  g.eos_ids = std::vector<int32_t>{eos};
  auto r = model::generate_groups(m->lm, m->tokenizer.get(), prompts, 2, true, g);
  for (int i : {0, 1}) {
    BOOST_TEST(r.finish_reason[i] == "eos");
    BOOST_TEST(r.ids[i].size() == static_cast<size_t>(first + 1));
    BOOST_TEST(r.ids[i].back() == eos);
  }
  for (int i : {2, 3}) {
    BOOST_TEST(r.finish_reason[i] == "length");
    BOOST_TEST(r.ids[i] == free_run.ids[i]);  // the rows left running keep their tokens
  }
  // Decode work: 4 rows until prompt 1's samples end, then 2.
  BOOST_TEST(r.stats.decode_steps == 9);
  BOOST_TEST(r.stats.decode_rows == 4 * first + 2 * (9 - first));
}

// ---- trainer --------------------------------------------------------------------------------------
BOOST_AUTO_TEST_CASE(batch_not_divisible_by_num_generations_is_a_clear_error) {
  auto o = small_options();
  o.batch_size = 3;
  o.grad_accum = 2;
  o.num_generations = 4;
  BOOST_CHECK_EXCEPTION(GrpoTrainer(tiny(), o), Error, [](const Error& e) {
    return std::string(e.what()).find(
               "(processes x per-device batch x grad_accum) must be divisible by "
               "num_generations: 1 x 3 x 2 = 6 is not divisible by 4") != std::string::npos;
  });
  o = small_options();
  o.num_generations = 1;
  BOOST_CHECK_THROW(GrpoTrainer(tiny(), o), Error);
  GrpoTrainer t(tiny(), small_options());
  BOOST_TEST(t.prompts_per_step() == 2);
  BOOST_CHECK_EXCEPTION(t.rollout(prompts_of(3)), Error, [](const Error& e) {
    return std::string(e.what()).find("expected 2 prompts") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(truncated_completions_are_masked_and_prompts_left_truncated) {
  auto o = small_options();
  o.mask_truncated_completions = true;
  o.max_prompt_len = 2;
  GrpoTrainer t(tiny(), o);
  auto r = t.rollout({{256, 1, 2, 3}, {256, 9}});
  BOOST_TEST(r->prompts_truncated == 1);
  BOOST_TEST((r->prompts[0] == std::vector<int32_t>{2, 3}));
  for (size_t i = 0; i < 8; ++i) {
    BOOST_TEST(r->truncated[i]);  // no EOS ids: every completion runs to max_completion_len
    BOOST_TEST(r->completions[i].size() == 6u);
  }
  auto st = t.train(*r, parity_rewards(*r));
  BOOST_REQUIRE(st.size() == 1u);
  BOOST_TEST(st[0].loss_tokens == 0);
  BOOST_TEST(st[0].loss == 0.0);
  BOOST_TEST(st[0].grad_norm == 0.0);
  BOOST_TEST(st[0].truncated_frac == 1.0);
  BOOST_TEST(st[0].completion_len_mean == 6.0);
  BOOST_CHECK_THROW(t.train(*r, parity_rewards(*r)), Error);  // a rollout trains once

  // Without masking the same completions all count.
  auto o2 = small_options();
  GrpoTrainer t2(tiny(), o2);
  auto r2 = t2.rollout({{256, 1, 2, 3}, {256, 9}});
  auto st2 = t2.train(*r2, parity_rewards(*r2));
  BOOST_TEST(st2[0].loss_tokens == 48);
  BOOST_TEST(st2[0].grad_norm > 0.0);
}

BOOST_AUTO_TEST_CASE(eos_rows_count_their_tokens_only) {
  auto m = tiny(7);
  auto o = small_options();
  o.mask_truncated_completions = true;
  o.sampling.temperature = 0;  // greedy: every sample of a prompt is the same
  // EOS: the 2nd greedy token for prompt 1 (checked not to appear in prompt 2's completion).
  auto free_run = model::generate_groups(m->lm, m->tokenizer.get(), {{256, 72}, {256, 40, 41}}, 1, true, [] {
    model::GenerateOptions g;
    g.max_new_tokens = 6;
    g.sampling.temperature = 0;
    g.eos_ids = std::vector<int32_t>{};
    return g;
  }());
  const int32_t eos = free_run.ids[0][1];
  BOOST_REQUIRE(std::find(free_run.ids[1].begin(), free_run.ids[1].end(), eos) == free_run.ids[1].end());
  const auto len =
      std::find(free_run.ids[0].begin(), free_run.ids[0].end(), eos) - free_run.ids[0].begin() + 1;
  o.eos_ids = std::vector<int32_t>{eos};
  GrpoTrainer t(m, o);
  auto r = t.rollout({{256, 72}, {256, 40, 41}});
  for (int i = 0; i < 4; ++i) {
    BOOST_TEST(r->finish_reason[i] == "eos");
    BOOST_TEST(!r->truncated[i]);
  }
  for (int i = 4; i < 8; ++i) BOOST_TEST(r->truncated[i]);
  std::vector<double> rewards = {1, 0, 0, 1, 1, 0, 1, 0};
  auto st = t.train(*r, rewards);
  BOOST_TEST(st[0].loss_tokens == 4 * len);  // prompt 2's truncated completions are masked
  BOOST_TEST(st[0].truncated_frac == 0.5);
  BOOST_TEST(st[0].completion_len_min == len);
  BOOST_TEST(st[0].completion_len_max == 6);
}

BOOST_AUTO_TEST_CASE(chunked_rows_give_the_same_step) {
  std::vector<train::GrpoStepStats> st;
  for (int64_t chunk : {0, 1, 3}) {
    auto o = small_options();
    o.loss = "grpo";
    o.beta = 0.2;
    o.num_iterations = 2;
    o.logps_chunk_rows = chunk;
    GrpoTrainer t(tiny(), o);
    auto r = t.rollout(prompts_of(2));
    auto s = t.train(*r, parity_rewards(*r));
    st.push_back(s[1]);  // the second iteration: ratio, KL and clipping all in play
  }
  for (size_t i = 1; i < st.size(); ++i) {
    BOOST_TEST(close(st[i].loss, st[0].loss, 1e-4), st[i].loss << " vs " << st[0].loss);
    BOOST_TEST(close(st[i].grad_norm, st[0].grad_norm, 1e-4));
    BOOST_TEST(close(st[i].kl, st[0].kl, 1e-4));
    BOOST_TEST(close(st[i].entropy, st[0].entropy, 1e-4));
  }
  BOOST_TEST(st[0].kl > 0.0);
}

BOOST_AUTO_TEST_CASE(step_normalisers_across_micro_batches) {
  // A hand-made rollout: micro-batch 1 = prompt 1's samples (lengths 2, 3, 1, 2, ended by EOS), micro-batch
  // 2 = prompt 2's (6 tokens each, truncated, masked). Per loss mode the step's loss is S1 (the masked
  // token sum of micro-batch 1; micro-batch 2 adds 0) over: bnpo 8 tokens x grad_accum 2; dapo every
  // completion token of the step, the masked 24 included (TRL's num_items_in_batch); dr_grpo 4 rows x
  // max_completion_len 6 x grad_accum 2.
  const std::vector<double> rewards = {0, 1, 0, 0, 1, 0, 1, 0};  // S1 = -(A . lengths) != 0
  std::map<std::string, train::GrpoStepStats> st;
  for (const char* mode : {"bnpo", "dapo", "dr_grpo"}) {
    auto o = small_options();
    o.loss = mode;
    o.mask_truncated_completions = true;
    GrpoTrainer t(tiny(), o);
    auto r = hand_rollout({0, 1});
    st[mode] = t.train(r, rewards)[0];
  }
  const double s1 = st["bnpo"].loss * 8 * 2;
  BOOST_TEST(std::abs(s1) > 1e-3);
  BOOST_TEST(close(st["dapo"].loss, s1 / 32, 1e-4), st["dapo"].loss << " vs " << s1 / 32);
  BOOST_TEST(close(st["dr_grpo"].loss, s1 / (4 * 6 * 2), 1e-4));
  BOOST_TEST(st["dapo"].loss_tokens == 8);
  BOOST_TEST(st["dapo"].truncated_frac == 0.5);
  BOOST_TEST(st["dapo"].completion_len_min == 1);
}

BOOST_AUTO_TEST_CASE(two_ranks_take_the_steps_of_one_process_over_both) {
  // One process with both groups (batch 4 x grad_accum 2) against ranks 0 and 1 of 2 with one group each
  // (batch 4 x grad_accum 1), summing through a fake world: the same losses, gradient norms and weights,
  // for every loss mode and for the batch std across ranks. Two iterations with old log-probs, and KL.
  const std::vector<double> rewards = {0, 1, 0, 0, 1, 0, 1, 0.5};
  for (const char* mode : {"grpo", "bnpo", "dr_grpo", "dapo"}) {
    for (const char* scale : {"group", "batch"}) {
      auto opts = [&](int world, int rank) {
        auto o = small_options();
        o.loss = mode;
        o.scale_rewards = scale;
        o.num_iterations = 2;
        o.beta = 0.1;
        o.epsilon = 0.05;
        o.grad_accum = world == 1 ? 2 : 1;
        o.world_size = world;
        o.rank = rank;
        return o;
      };
      auto prepared = [](GrpoTrainer& t, model::Model& m, train::Rollout r) {
        r.old_logps = t.rollout_logps(m.lm, r);
        auto base = tiny();  // the frozen reference = the initial weights
        r.ref_logps = t.rollout_logps(base->lm, r);
        return r;
      };
      auto one = tiny();
      GrpoTrainer single(one, opts(1, 0));
      auto rs = prepared(single, *one, hand_rollout({0, 1}));
      auto s1 = single.train(rs, rewards);

      test::FakeWorld world(2);
      std::vector<std::shared_ptr<model::Model>> ms = {tiny(), tiny()};
      std::vector<std::vector<train::GrpoStepStats>> st(2);
      std::vector<std::string> errors(2);
      auto run = [&](int rank) {
        try {
          GrpoTrainer t(ms[rank], opts(2, rank));
          t.set_rank_sync(std::make_shared<test::FakeRankSync>(world, rank));
          auto r = prepared(t, *ms[rank], hand_rollout({rank}));
          st[rank] =
              t.train(r, std::vector<double>(rewards.begin() + 4 * rank, rewards.begin() + 4 * rank + 4));
        } catch (const std::exception& e) {
          errors[rank] = e.what();
        }
      };
      std::thread other(run, 1);
      run(0);
      other.join();
      BOOST_REQUIRE_MESSAGE(errors[0].empty() && errors[1].empty(), errors[0] << errors[1]);
      for (int it = 0; it < 2; ++it)
        for (int rank = 0; rank < 2; ++rank) {
          BOOST_TEST(close(st[rank][it].loss, s1[it].loss, 1e-4), mode << "/" << scale << " it " << it << ": "
                                                                       << st[rank][it].loss << " vs "
                                                                       << s1[it].loss);
          BOOST_TEST(close(st[rank][it].grad_norm, s1[it].grad_norm, 1e-4), mode << "/" << scale);
        }
      BOOST_TEST(s1[1].clip_region > 0.0);
      auto p1 = one->lm->parameters();
      auto p2 = ms[0]->lm->parameters();
      for (size_t i = 0; i < p1.size(); ++i)
        BOOST_TEST(at::allclose(p1[i], p2[i], 1e-4, 1e-6), mode << "/" << scale);
    }
  }
  // world_size 2 with nothing connecting the ranks is an error, not a silent per-rank normalisation.
  auto o = small_options();
  o.world_size = 2;
  o.grad_accum = 1;
  GrpoTrainer alone(tiny(), o);
  auto r = hand_rollout({0});
  BOOST_CHECK_EXCEPTION(alone.train(r, {0, 1, 0, 0}), Error, [](const Error& e) {
    return std::string(e.what()).find("world_size is 2 but nothing connects the ranks") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(num_iterations_stores_old_logps_and_moves_the_ratio) {
  auto o = small_options();
  o.num_iterations = 2;
  o.epsilon = 0.0;  // any ratio != 1 counts as clipped (when the advantage has the matching sign)
  o.epsilon_high = 0.0;
  o.schedule.lr = 5e-2;
  auto m = tiny();
  GrpoTrainer t(m, o);
  auto r = t.rollout(prompts_of(2));
  BOOST_REQUIRE(r->old_logps.defined());
  BOOST_TEST((r->old_logps.sizes() == at::IntArrayRef{8, 6}));
  // The stored old log-probs are the policy's at rollout time.
  at::Tensor now = t.rollout_logps(m->lm, *r);
  BOOST_TEST(at::allclose(now, r->old_logps, 1e-5, 1e-6));
  auto st = t.train(*r, parity_rewards(*r));
  BOOST_REQUIRE(st.size() == 2u);
  BOOST_TEST(st[0].iteration == 0);
  BOOST_TEST(st[1].iteration == 1);
  BOOST_TEST(st[1].step == 2);
  BOOST_TEST(st[0].clip_region < 1e-6);  // ratio 1 (up to float rounding) before the first update
  BOOST_TEST(st[1].clip_region > 0.1);   // the second step sees the updated policy against old_logps
  BOOST_TEST(st[0].seconds_rollout > 0.0);
  BOOST_TEST(st[1].seconds_rollout == 0.0);
  BOOST_TEST(!at::allclose(t.rollout_logps(m->lm, *r), r->old_logps, 1e-3, 1e-4));
  // num_iterations = 1 keeps no old log-probs (the ratio is exactly 1).
  GrpoTrainer t1(tiny(), small_options());
  BOOST_TEST(!t1.rollout(prompts_of(2))->old_logps.defined());
}

BOOST_AUTO_TEST_CASE(reference_policy_is_the_base_model_or_a_frozen_copy) {
  // LoRA: adapters disabled on the same model. B = 0 at the start, so the first KL is exactly 0.
  {
    auto m = tiny();
    train::LoraConfig lc;
    lc.r = 4;
    lc.all_linear = true;
    train::apply_lora(*m, lc);
    auto o = small_options();
    o.beta = 0.5;
    o.schedule.lr = 5e-2;
    GrpoTrainer t(m, o);
    BOOST_TEST(t.reference_kind() == "adapters_disabled");
    auto r = t.rollout(prompts_of(2));
    BOOST_REQUIRE(r->ref_logps.defined());
    BOOST_TEST(at::equal(r->ref_logps, t.rollout_logps(m->lm, *r)));
    auto st = t.train(*r, parity_rewards(*r));
    BOOST_TEST(st[0].kl == 0.0);
    auto r2 = t.rollout(prompts_of(2));
    BOOST_TEST(!at::allclose(r2->ref_logps, t.rollout_logps(m->lm, *r2), 1e-4, 1e-5));  // adapters now matter
    auto st2 = t.train(*r2, parity_rewards(*r2));
    BOOST_TEST(st2[0].kl > 0.0);
    // The adapters are enabled again after the reference pass.
    for (auto& x : train::lora_targets(*m)) BOOST_TEST(x.adapter->enabled);
  }
  // Full fine-tuning: a frozen copy that does not move with the policy.
  {
    auto m = tiny();
    auto o = small_options();
    o.beta = 0.5;
    o.schedule.lr = 5e-2;
    GrpoTrainer t(m, o);
    BOOST_TEST(t.reference_kind() == "copy");
    auto r = t.rollout(prompts_of(2));
    BOOST_TEST(at::allclose(r->ref_logps, t.rollout_logps(m->lm, *r), 1e-6, 1e-7));
    t.train(*r, parity_rewards(*r));
    auto r2 = t.rollout(prompts_of(2));
    auto fresh = tiny();  // same seed: the weights the copy was taken from
    BOOST_TEST(at::allclose(r2->ref_logps, t.rollout_logps(fresh->lm, *r2), 1e-6, 1e-7));
    BOOST_TEST(!at::allclose(r2->ref_logps, t.rollout_logps(m->lm, *r2), 1e-4, 1e-5));
    BOOST_TEST(t.train(*r2, parity_rewards(*r2))[0].kl > 0.0);
  }
  // beta = 0: no reference at all.
  GrpoTrainer t0(tiny(), small_options());
  BOOST_TEST(t0.reference_kind() == "none");
  BOOST_TEST(!t0.rollout(prompts_of(2))->ref_logps.defined());
}

BOOST_AUTO_TEST_CASE(interrupt_before_the_update_leaves_the_rollout_trainable) {
  GrpoTrainer a(tiny(), small_options());
  auto ra = a.rollout(prompts_of(2));
  ft::request_interrupt();
  BOOST_CHECK_THROW(a.train(*ra, parity_rewards(*ra)), ft::Interrupted);
  BOOST_TEST(a.global_step() == 0);
  auto sa = a.train(*ra, parity_rewards(*ra));
  auto ob = small_options();
  ob.max_steps = 1;  // constant LR: the same first step as a's
  GrpoTrainer b(tiny(), ob);
  auto rb = b.rollout(prompts_of(2));
  auto sb = b.train(*rb, parity_rewards(*rb));
  BOOST_TEST(sa[0].loss == sb[0].loss);
  BOOST_TEST(sa[0].grad_norm == sb[0].grad_norm);  // no gradient left over from the interrupted pass
  auto rb2 = b.rollout(prompts_of(2));             // a finished run still generates (evaluation)
  BOOST_CHECK_EXCEPTION(b.train(*rb2, parity_rewards(*rb2)), Error, [](const Error& e) {
    return std::string(e.what()).find("training is finished (1 of 1 steps)") != std::string::npos;
  });
}

BOOST_AUTO_TEST_CASE(resume_from_a_checkpoint_gives_identical_next_steps) {
  const std::string out = tmpdir("resume");
  auto o = small_options();
  o.output = out;
  o.beta = 0.1;
  auto step = [](GrpoTrainer& t, const std::vector<std::vector<int32_t>>& all) {
    std::vector<std::vector<int32_t>> p;
    for (int64_t i : t.prompt_indices(static_cast<int64_t>(all.size()))) p.push_back(all[i]);
    auto r = t.rollout(p);
    auto st = t.train(*r, parity_rewards(*r));
    return std::make_pair(r, st[0]);
  };
  const auto all = prompts_of(6);
  GrpoTrainer a(tiny(), o);
  step(a, all);
  const std::string dir = a.save({{"note", "after step 1"}});
  BOOST_TEST(dir == out + "/checkpoint-1");
  auto [ra, sa] = step(a, all);

  GrpoTrainer b(tiny(), o);  // the same initial weights; the reference copy is taken from them too
  nlohmann::json extra;
  BOOST_TEST(b.resume(&extra) == 1);
  BOOST_TEST(extra["note"] == "after step 1");
  auto [rb, sb] = step(b, all);
  BOOST_TEST(ra->prompts == rb->prompts);
  BOOST_TEST(ra->completions == rb->completions);
  BOOST_TEST(sa.loss == sb.loss);
  BOOST_TEST(sa.grad_norm == sb.grad_norm);
  BOOST_TEST(sa.kl == sb.kl);
  BOOST_TEST(sa.entropy == sb.entropy);
  BOOST_TEST(sa.step == 2);
  BOOST_TEST(sb.step == 2);
  // The step's rollout differs from step 1's (the seed moves with the step).
  GrpoTrainer c(tiny(), o);
  auto [rc, sc] = step(c, all);
  BOOST_TEST(rc->completions != ra->completions);
  fs::remove_all(out);
}

BOOST_AUTO_TEST_CASE(a_few_steps_raise_a_simple_reward) {
  // Reward: the first completion byte is even. A tiny random model starts near 50% and learns it.
  auto o = small_options();
  o.num_generations = 8;
  o.batch_size = 8;
  o.grad_accum = 2;
  o.max_completion_len = 2;
  o.max_steps = 30;
  o.schedule.lr = 3e-2;
  GrpoTrainer t(tiny(), o);
  const auto all = prompts_of(8);
  double first = 0, last = 0;
  for (int s = 0; s < 30; ++s) {
    std::vector<std::vector<int32_t>> p;
    for (int64_t i : t.prompt_indices(8)) p.push_back(all[i]);
    auto r = t.rollout(p);
    auto st = t.train(*r, parity_rewards(*r));
    if (s < 3) first += st[0].reward_mean / 3;
    if (s >= 27) last += st[0].reward_mean / 3;
  }
  BOOST_TEST_MESSAGE("mean reward, first 3 steps " << first << ", last 3 steps " << last);
  BOOST_TEST(last > first + 0.3);
  BOOST_TEST(last > 0.85);
}
