// host/train: LoRA identities (B = 0, merge/unmerge, rslora scale, dropout only in training), PEFT
// save/load names and config, fused AdamW vs torch::optim::AdamW, schedules, accumulated == big-batch
// step, bitwise-exact resume from a checkpoint.
#include <boost/test/unit_test.hpp>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <cmath>

#include "core/error.h"
#include "core/fs.h"
#include "fixtures.h"
#include "io/safetensors.h"
#include "train/lora.h"
#include "train/optimizer.h"
#include "train/schedule.h"
#include "train/trainer.h"

using namespace ft;

namespace {

std::shared_ptr<model::Model> tiny(uint64_t seed = 3) {
  return test::tiny_lm(seed);
}

at::Tensor logits(model::Model& m, const at::Tensor& ids) {
  torch::NoGradGuard ng;
  model::ForwardInput in;
  in.input_ids = ids;
  return m.forward(in);
}

std::string tmpdir(const std::string& name) {
  std::string d = "/tmp/ft_train_test_" + std::to_string(::getpid()) + "_" + name;
  fs::remove_all(d);
  return d;
}

std::vector<data::Example> examples(int n) {
  return test::sum_examples(n);
}

}  // namespace

BOOST_AUTO_TEST_CASE(lora_with_zero_b_leaves_logits_unchanged) {
  auto m = tiny();
  at::Tensor ids = torch::tensor({{256, 49, 50, 43, 51}}, at::kLong);
  at::Tensor before = logits(*m, ids);
  train::LoraConfig c;
  c.all_linear = true;
  c.r = 4;
  auto t = train::apply_lora(*m, c);
  BOOST_TEST(t.size() == 14u);  // 7 projections x 2 layers (lm_head is tied here)
  BOOST_TEST((at::equal(before, logits(*m, ids))));
  // Only adapter parameters train.
  for (auto& p : m->lm->named_parameters())
    BOOST_TEST(p.value().requires_grad() == (p.key().find(".lora.lora_") != std::string::npos), p.key());
  // A is kaiming-uniform(a = sqrt 5): |A| <= 1 / sqrt(in).
  BOOST_TEST(t[0].adapter->lora_A.abs().max().item<float>() <= 1.0f / std::sqrt(32.0f) + 1e-7f);
  BOOST_TEST(t[0].adapter->lora_A.abs().max().item<float>() > 0.5f / std::sqrt(32.0f));
}

BOOST_AUTO_TEST_CASE(lora_scale_rslora_merge_unmerge_disable) {
  auto m = tiny();
  at::Tensor ids = torch::tensor({{256, 49, 50, 43, 51, 61}}, at::kLong);
  at::Tensor base = logits(*m, ids);
  train::LoraConfig c;
  c.r = 4;
  c.alpha = 8;
  c.rslora = true;
  auto t = train::apply_lora(*m, c);
  BOOST_TEST(t.size() == 4u);  // q_proj, v_proj in 2 layers
  BOOST_TEST(t[0].adapter->scale() == 8.0 / 2.0);
  {
    torch::NoGradGuard ng;
    for (auto& x : t) x.adapter->lora_B.normal_(0, 0.5);
  }
  at::Tensor w0 = t[0].linear->weight.clone();
  at::Tensor adapted = logits(*m, ids);
  BOOST_TEST(!at::allclose(adapted, base, 1e-4, 1e-4));
  // Merged weights give the adapted outputs without running the adapters.
  train::merge_lora(*m);
  BOOST_TEST(!t[0].adapter->enabled);
  BOOST_TEST(at::allclose(logits(*m, ids), adapted, 1e-4, 1e-5));
  train::unmerge_lora(*m);
  BOOST_TEST((t[0].linear->weight - w0).abs().max().item<float>() < 1e-6f);
  BOOST_TEST(at::allclose(logits(*m, ids), adapted, 1e-5, 1e-6));
  train::set_lora_enabled(*m, false);
  BOOST_TEST(at::allclose(logits(*m, ids), base, 1e-5, 1e-6));
  train::set_lora_enabled(*m, true);
  // Dropout acts only with grad mode on and in training mode.
  auto& a = *t[0].adapter;
  a.dropout_p = 0.5;
  at::Tensor x = torch::ones({2, 32});
  at::Tensor y_eval;
  {
    torch::NoGradGuard ng;
    y_eval = a.forward(x);
  }
  BOOST_TEST(at::equal(y_eval, a.forward(x.clone()).detach()) == false);
  m->lm->eval();
  BOOST_TEST(at::equal(y_eval, a.forward(x).detach()));
}

BOOST_AUTO_TEST_CASE(peft_save_load_names_shapes_config) {
  auto m = tiny();
  train::LoraConfig c;
  c.r = 4;
  c.alpha = 16;
  c.targets = {"q_proj", "down_proj"};
  c.modules_to_save = {"embed_tokens"};
  auto t = train::apply_lora(*m, c);
  {
    torch::NoGradGuard ng;
    for (auto& x : t) x.adapter->lora_B.normal_(0, 0.1);
  }
  std::string dir = tmpdir("adapter");
  train::save_adapter(*m, dir);
  auto sd = io::load_safetensors(dir + "/adapter_model.safetensors");
  BOOST_TEST(sd.size() == 9u);  // 2 layers x 2 modules x (A, B) + embed_tokens
  BOOST_TEST((sd.at("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").sizes() == at::IntArrayRef({4, 32})));
  BOOST_TEST((sd.at("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight").sizes() == at::IntArrayRef({32, 4})));
  BOOST_TEST(sd.count("base_model.model.model.embed_tokens.weight") == 1u);
  auto cfg = nlohmann::json::parse(fs::read_file(dir + "/adapter_config.json"));
  BOOST_TEST((cfg["peft_type"] == "LORA"));
  BOOST_TEST((cfg["task_type"] == "CAUSAL_LM"));
  BOOST_TEST((cfg["r"] == 4));
  BOOST_TEST((cfg["lora_alpha"] == 16.0));
  BOOST_TEST((cfg["target_modules"] == nlohmann::json({"down_proj", "q_proj"})));
  BOOST_TEST((cfg["modules_to_save"] == nlohmann::json({"embed_tokens"})));
  BOOST_TEST((cfg["use_rslora"] == false));
  // A fresh base model with the loaded adapter gives the same logits.
  at::Tensor ids = torch::tensor({{256, 49, 50}}, at::kLong);
  at::Tensor want = logits(*m, ids);
  auto m2 = tiny();
  train::load_adapter(*m2, dir);
  BOOST_TEST(at::allclose(logits(*m2, ids), want, 1e-6, 1e-6));
  // Damaged adapter: a missing tensor is named.
  auto sd2 = sd;
  sd2.erase("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight");
  std::vector<std::pair<std::string, at::Tensor>> v(sd2.begin(), sd2.end());
  io::write_safetensors_file(dir + "/adapter_model.safetensors", v, {});
  auto m3 = tiny();
  try {
    train::load_adapter(*m3, dir);
    BOOST_FAIL("expected an error");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("layers.1.mlp.down_proj.lora_B.weight") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_CASE(fused_adamw_matches_torch_adamw) {
  torch::manual_seed(0);
  at::Tensor p0 = torch::randn({1000, 37});
  at::Tensor a = p0.clone().set_requires_grad(true), b = p0.clone().set_requires_grad(true);
  train::AdamWOptions o;
  o.weight_decay = 0.1;
  train::FusedAdamW fused({{"w", a}}, o);
  torch::optim::AdamW ref({b}, torch::optim::AdamWOptions(1e-3).betas({0.9, 0.999}).eps(1e-8).weight_decay(0.1));
  for (int s = 0; s < 20; ++s) {
    at::Tensor g = torch::randn({1000, 37});
    a.mutable_grad() = g.clone();
    b.mutable_grad() = g.clone();
    fused.step(1e-3);
    ref.step();
  }
  float diff = (a - b).abs().max().item<float>();
  BOOST_TEST(diff < 1e-6f, "max |fused - torch| = " << diff);
  BOOST_TEST((a - p0).abs().max().item<float>() > 1e-3f);  // it did move
  // State round trip.
  auto st = fused.state();
  std::map<std::string, at::Tensor> sm(st.begin(), st.end());
  train::FusedAdamW other({{"w", a}}, o);
  other.load_state(sm);
  BOOST_TEST(other.steps() == 20);
}

BOOST_AUTO_TEST_CASE(foreach_adamw_matches_torch_adamw_and_shares_fused_state) {
  torch::manual_seed(1);
  at::Tensor w0 = torch::randn({300, 17}), b0 = torch::randn({17});
  auto leaf = [](const at::Tensor& t) { return t.clone().set_requires_grad(true); };
  at::Tensor w = leaf(w0), b = leaf(b0), rw = leaf(w0), rb = leaf(b0);
  train::AdamWOptions o;
  o.weight_decay = 0.05;
  o.beta1 = 0.8;
  train::ForeachAdamW fe({{"w", w}, {"b", b}}, o);
  torch::optim::AdamW ref({rw, rb},
                          torch::optim::AdamWOptions(2e-3).betas({0.8, 0.999}).eps(1e-8).weight_decay(0.05));
  auto grads = [&] {
    at::Tensor gw = torch::randn({300, 17}), gb = torch::randn({17});
    w.mutable_grad() = gw.clone();
    b.mutable_grad() = gb.clone();
    rw.mutable_grad() = gw.clone();
    rb.mutable_grad() = gb.clone();
  };
  for (int s = 0; s < 15; ++s) {
    grads();
    fe.step(2e-3);
    ref.step();
  }
  BOOST_TEST(!fe.used_fused_kernel());  // CPU: the multi-tensor ops
  BOOST_TEST(at::equal(w, rw));        // the same ops in the same order: bitwise
  BOOST_TEST(at::equal(b, rb));
  BOOST_TEST((w - w0).abs().max().item<float>() > 1e-3f);
  // Its checkpoint state resumes under the fused CPU kernel (one layout for both).
  auto st = fe.state();
  std::map<std::string, at::Tensor> sm(st.begin(), st.end());
  at::Tensor w2 = leaf(w.detach()), b2 = leaf(b.detach());
  train::FusedAdamW fused({{"w", w2}, {"b", b2}}, o);
  fused.load_state(sm);
  BOOST_TEST(fused.steps() == 15);
  for (int s = 0; s < 5; ++s) {
    grads();
    w2.mutable_grad() = w.grad().clone();
    b2.mutable_grad() = b.grad().clone();
    fe.step(2e-3);
    fused.step(2e-3);
  }
  BOOST_TEST((w2 - w).abs().max().item<float>() < 1e-6f);
  BOOST_TEST((b2 - b).abs().max().item<float>() < 1e-6f);
}

BOOST_AUTO_TEST_CASE(adamw_picks_the_fused_kernel_for_cpu_fp32_and_foreach_otherwise) {
  at::Tensor f32 = torch::zeros({4}).set_requires_grad(true);
  at::Tensor bf16 = torch::zeros({4}, at::kBFloat16).set_requires_grad(true);
  BOOST_TEST(train::make_optimizer("adamw", {{"p", f32}}, {})->name() == "adamw_fused");
  BOOST_TEST(train::make_optimizer("adamw", {{"p", bf16}}, {})->name() == "adamw_foreach");
  BOOST_TEST(train::make_optimizer("adamw_foreach", {{"p", f32}}, {})->name() == "adamw_foreach");
  BOOST_TEST(train::make_optimizer("adamw_torch", {{"p", f32}}, {})->name() == "adamw_torch");
  BOOST_CHECK_THROW(train::make_optimizer("adamw_fused", {{"p", bf16}}, {}), Error);
}

BOOST_AUTO_TEST_CASE(schedules_follow_transformers) {
  train::Schedule s;
  s.lr = 1.0;
  s.warmup_steps = 10;
  s.total_steps = 110;
  s.kind = "linear";
  BOOST_TEST(s.lr_at(0) == 0.0);
  BOOST_TEST(s.lr_at(5) == 0.5);
  BOOST_TEST(s.lr_at(10) == 1.0);
  BOOST_TEST(s.lr_at(60) == 0.5);
  BOOST_TEST(s.lr_at(110) == 0.0);
  s.kind = "cosine";
  BOOST_TEST(std::abs(s.lr_at(60) - 0.5) < 1e-12);
  BOOST_TEST(std::abs(s.lr_at(35) - 0.5 * (1 + std::cos(M_PI * 0.25))) < 1e-12);
  s.kind = "constant";
  BOOST_TEST(s.lr_at(100) == 1.0);
  s.kind = "wavy";
  BOOST_CHECK_THROW(train::check_schedule(s), Error);
}

BOOST_AUTO_TEST_CASE(accumulated_step_equals_big_batch_step) {
  auto ex = examples(16);
  train::TrainerOptions o;
  o.max_steps = 1;
  o.seed = 7;
  o.schedule.kind = "constant";
  o.schedule.lr = 1e-2;
  o.max_grad_norm = 0;
  // A large eps keeps Adam's first step (about lr * sign(g)) from amplifying fp32 rounding in tiny grads.
  o.adamw.eps = 1e-3;
  auto m1 = tiny(), m2 = tiny();
  o.batch_size = 8;
  o.grad_accum = 1;
  train::SftTrainer big(m1, ex, {}, o);
  o.batch_size = 2;
  o.grad_accum = 4;
  train::SftTrainer acc(m2, ex, {}, o);
  auto s1 = big.step();
  auto s2 = acc.step();
  BOOST_TEST(s1.label_tokens == s2.label_tokens);
  BOOST_TEST(std::abs(s1.loss - s2.loss) < 1e-6, s1.loss << " vs " << s2.loss);
  BOOST_TEST(std::abs(s1.grad_norm - s2.grad_norm) < 1e-5 * s1.grad_norm, s1.grad_norm << " vs " << s2.grad_norm);
  auto p1 = m1->lm->named_parameters(), p2 = m2->lm->named_parameters();
  float diff = 0;
  for (auto& kv : p1) diff = std::max(diff, (kv.value() - p2[kv.key()]).abs().max().item<float>());
  BOOST_TEST(diff < 1e-6f, "max parameter difference " << diff);
}

BOOST_AUTO_TEST_CASE(resume_reproduces_the_loss_sequence_bitwise) {
  auto ex = examples(24);
  train::TrainerOptions o;
  o.batch_size = 4;
  o.grad_accum = 2;
  o.max_steps = 6;
  o.seed = 11;
  o.schedule.lr = 5e-3;
  o.schedule.warmup_steps = 2;
  train::LoraConfig lc;
  lc.r = 4;
  lc.dropout = 0.1;  // the RNG state must be restored too
  lc.all_linear = true;
  lc.modules_to_save = {"embed_tokens"};
  std::vector<double> straight;
  {
    torch::manual_seed(1);
    auto m = tiny();
    train::apply_lora(*m, lc);
    train::SftTrainer t(m, ex, {}, o);
    for (int i = 0; i < 6; ++i) straight.push_back(t.step().loss);
  }
  o.output = tmpdir("resume");
  std::vector<double> resumed;
  {
    torch::manual_seed(1);
    auto m = tiny();
    train::apply_lora(*m, lc);
    train::SftTrainer t(m, ex, {}, o);
    BOOST_TEST(t.resume() == 0);
    for (int i = 0; i < 3; ++i) resumed.push_back(t.step().loss);
    std::string dir = t.save_checkpoint();
    BOOST_TEST(dir == o.output + "/checkpoint-3");
    t.step();  // progress after the checkpoint is lost, as after kill -9
  }
  // A half-written checkpoint folder is never picked up.
  fs::make_dirs(o.output + "/.checkpoint-9.tmp.1");
  {
    torch::manual_seed(99);  // a different process state: resume must not depend on it
    auto m = tiny();
    train::apply_lora(*m, lc);
    train::SftTrainer t(m, ex, {}, o);
    BOOST_TEST(t.resume() == 3);
    while (!t.done()) resumed.push_back(t.step().loss);
    t.save_checkpoint();
  }
  BOOST_TEST(resumed.size() == straight.size());
  for (size_t i = 0; i < straight.size(); ++i) BOOST_TEST(resumed[i] == straight[i], "step " << i + 1);
  BOOST_TEST(straight.back() < straight.front());
  // save_total_limit = 2 kept the newest two.
  BOOST_TEST(fs::exists(o.output + "/checkpoint-6"));
  BOOST_TEST(fs::exists(o.output + "/checkpoint-3"));
  BOOST_TEST((fs::read_file(o.output + "/latest") == "checkpoint-6\n"));
  BOOST_TEST(!fs::exists(o.output + "/.checkpoint-9.tmp.1"));
}

BOOST_AUTO_TEST_CASE(packed_loss_equals_unpacked_loss) {
  auto ex = examples(8);
  train::TrainerOptions o;
  o.batch_size = 8;
  auto m = tiny();
  train::SftTrainer t(m, ex, {}, o);
  std::vector<const data::Example*> ptrs;
  for (auto& e : ex) ptrs.push_back(&e);
  torch::NoGradGuard ng;
  auto [plain, n_plain] = t.batch_loss_sum(data::collate(ptrs, 258));
  auto packed_rows = data::pack(ex, 40);
  BOOST_TEST(packed_rows.size() < ex.size());  // several samples share a row
  std::vector<const data::Example*> pp;
  for (auto& e : packed_rows) pp.push_back(&e);
  auto pb = data::collate(pp, 258);
  BOOST_TEST(!pb.segment_ids.empty());
  auto [packed, n_packed] = t.batch_loss_sum(pb);
  BOOST_TEST(n_plain == n_packed);
  // Tolerance: fp32 attention over different row lengths sums in a different order.
  BOOST_TEST(std::abs(plain.item<double>() - packed.item<double>()) < 1e-4 * plain.item<double>(),
             plain.item<double>() << " vs " << packed.item<double>());
}
