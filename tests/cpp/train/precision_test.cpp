// Mixed precision: the fp16 loss scaler's schedule (skips counted, halving after the hysteresis, doubling
// after scale_window clean steps, error at the minimum, JSON round trip), fp32 masters around fp16
// parameters driven with synthetic gradients (fp16 matmul does not exist on CPU in LibTorch 1.13, so no
// fp16 forward runs here), and bf16 training end to end: model in bf16, fp32 masters in the checkpoint,
// loss near the fp32 run, bitwise-exact resume.
#include <boost/test/unit_test.hpp>

#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "core/error.h"
#include "core/fs.h"
#include "fixtures.h"
#include "io/safetensors.h"
#include "train/lora.h"
#include "train/loss_scaler.h"
#include "train/mixed_precision.h"
#include "train/trainer.h"

using namespace ft;

namespace {

std::shared_ptr<model::Model> tiny(uint64_t seed = 3) {
  return test::tiny_lm(seed);
}

std::vector<data::Example> examples(int n) {
  return test::sum_examples(n);
}

}  // namespace

BOOST_AUTO_TEST_CASE(loss_scaler_follows_deepspeed) {
  train::LossScaler s;  // 2^16, window 1000, hysteresis 2
  BOOST_TEST(s.scale() == 65536.0);
  s.update(true);  // first overflow uses up the hysteresis
  BOOST_TEST(s.scale() == 65536.0);
  BOOST_TEST(s.hysteresis_left() == 1);
  s.update(true);  // second halves
  BOOST_TEST(s.scale() == 32768.0);
  s.update(true);  // hysteresis stays spent until the next growth: halves again
  BOOST_TEST(s.scale() == 16384.0);
  BOOST_TEST(s.overflows() == 3);
  // Clean steps: the scale doubles when 1000 clean steps have passed since the last overflow (on the
  // next clean one, as DeepSpeed counts), and the hysteresis is refilled.
  for (int i = 0; i < 1000; ++i) s.update(false);
  BOOST_TEST(s.scale() == 16384.0);
  s.update(false);
  BOOST_TEST(s.scale() == 32768.0);
  BOOST_TEST(s.hysteresis_left() == 2);
  for (int i = 0; i < 999; ++i) s.update(false);
  BOOST_TEST(s.scale() == 32768.0);
  s.update(false);
  BOOST_TEST(s.scale() == 65536.0);
  // JSON round trip continues identically.
  train::LossScaler r;
  r.load_state(nlohmann::json::parse(s.state().dump()));
  for (bool o : {true, false, true, true, false}) {
    s.update(o);
    r.update(o);
    BOOST_TEST(s.scale() == r.scale());
  }
  BOOST_TEST(r.overflows() == 6);
  BOOST_CHECK_THROW(r.load_state(nlohmann::json{{"scale", 2.0}}), Error);
}

BOOST_AUTO_TEST_CASE(loss_scaler_errors_at_the_minimum) {
  train::LossScalerOptions o;
  o.initial_scale = 4;
  o.hysteresis = 1;
  o.min_scale = 1;
  train::LossScaler s(o);
  s.update(true);
  s.update(true);
  BOOST_TEST(s.scale() == 1.0);
  try {
    s.update(true);
    BOOST_FAIL("expected an error");
  } catch (const Error& e) {
    BOOST_TEST(
        std::string(e.what()).find("overflowed (inf/NaN) at the minimum loss scale") != std::string::npos,
        e.what());
  }
}

BOOST_AUTO_TEST_CASE(fp16_masters_unscale_skip_and_copy_back) {
  // What TrainState::update does with fp16 weights, on synthetic gradients: grads arrive multiplied by the
  // loss scale, are divided into fp32 masters, an inf skips the update (masters and weights unchanged), a
  // clean step updates the masters and rounds them into the fp16 weights.
  at::Tensor w = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}).to(at::kHalf).set_requires_grad(true);
  train::MixedPrecision mp({{"w", w}}, at::kHalf);
  BOOST_TEST(mp.masters()[0].second.scalar_type() == at::kFloat);
  BOOST_TEST(mp.loss_scale() == 65536.0);
  BOOST_TEST(mp.scale_loss(torch::tensor(0.5f)).item<float>() == 32768.0f);
  auto opt = train::make_optimizer("sgd", mp.masters(), {});
  auto update = [&](const at::Tensor& grad) {
    w.mutable_grad() = grad.to(at::kHalf);
    mp.unscale_grads();
    BOOST_TEST(!w.grad().defined());  // the fp16 gradient is dropped once moved
    double norm = train::clip_grad_norm(mp.masters(), 0);
    bool ok = std::isfinite(norm);
    if (ok) {
      opt->step(0.5);
      mp.copy_to_params();
    }
    mp.record_step(!ok);
    mp.zero_grad();
    return ok;
  };
  const at::Tensor g = torch::tensor({0.25f, -0.5f, 0.125f, 1.0f / 3.0f});
  BOOST_TEST(update(g * 65536.0));
  at::Tensor master = mp.masters()[0].second.detach();
  // The master got exactly w - 0.5 * g (the fp16 gradient of 1/3 rounds: 21845.33 -> 21840 -> 0.333252).
  const float g3 = static_cast<float>(at::tensor(65536.0f / 3.0f).to(at::kHalf).item<float>() / 65536.0);
  BOOST_TEST(master[0].item<float>() == 1.0f - 0.125f);
  BOOST_TEST(master[1].item<float>() == 2.25f);
  BOOST_TEST(master[3].item<float>() == 4.0f - 0.5f * g3);
  BOOST_TEST(at::equal(w.detach(), master.to(at::kHalf)));
  // Overflow: a gradient beyond fp16's range (inf after the cast) skips the step.
  at::Tensor before = master.clone();
  BOOST_TEST(!update(torch::tensor({1e6f, 0.0f, 0.0f, 0.0f})));
  BOOST_TEST(at::equal(mp.masters()[0].second.detach(), before));
  BOOST_TEST(mp.loss_scale() == 65536.0);  // hysteresis 2: the first overflow keeps the scale
  BOOST_TEST(!update(torch::tensor({NAN, 0.0f, 0.0f, 0.0f})));
  BOOST_TEST(mp.loss_scale() == 32768.0);
  BOOST_TEST(mp.scaler()->overflows() == 2);
  // The next clean step uses the new scale.
  BOOST_TEST(update(g * 32768.0));
  BOOST_TEST(mp.masters()[0].second[1].item<float>() == 2.5f);
}

BOOST_AUTO_TEST_CASE(fp16_on_cpu_is_a_clear_error_when_unsupported) {
  // LibTorch 1.13 has no fp16 matmul on CPU: the trainer says so up front (LibTorch >= 2 has one).
  auto m = tiny();
  train::TrainerOptions o;
  o.max_steps = 1;
  o.batch_size = 2;
  o.precision = "fp16";
  bool cpu_fp16 = true;
  try {
    auto a = at::ones({2, 2}, at::kHalf);
    (void)at::matmul(a, a);
  } catch (const c10::Error&) {
    cpu_fp16 = false;
  }
  if (cpu_fp16) {
    BOOST_TEST_MESSAGE("this LibTorch has fp16 matmul on CPU; fp16 trains here");
    BOOST_CHECK_NO_THROW(train::SftTrainer(m, examples(4), {}, o));
  } else {
    try {
      train::SftTrainer t(m, examples(4), {}, o);
      BOOST_FAIL("expected an error");
    } catch (const Error& e) {
      BOOST_TEST(std::string(e.what()).find(
                     "precision fp16: this LibTorch has no Half matrix multiply on cpu") != std::string::npos,
                 e.what());
      BOOST_TEST(std::string(e.what()).find("use precision = \"bf16\"") != std::string::npos, e.what());
    }
  }
  o.precision = "fp8";
  BOOST_CHECK_THROW(train::SftTrainer(tiny(), examples(4), {}, o), Error);
}

BOOST_AUTO_TEST_CASE(bf16_trains_with_fp32_masters_and_resumes_bitwise) {
  auto ex = examples(24);
  train::TrainerOptions o;
  o.batch_size = 4;
  o.grad_accum = 2;
  o.max_steps = 6;
  o.seed = 11;
  o.schedule.lr = 1e-2;
  o.schedule.warmup_steps = 1;
  train::LoraConfig lc;
  lc.r = 4;
  lc.dropout = 0.1;
  lc.all_linear = true;
  auto run = [&](const std::string& precision, std::vector<double>& losses, int steps, const std::string& out,
                 bool resume) {
    torch::manual_seed(resume ? 99 : 1);  // dropout draws from the global generator; resume restores it
    auto m = tiny();
    train::apply_lora(*m, lc);
    o.precision = precision;
    o.output = out;
    train::SftTrainer t(m, ex, {}, o);
    if (resume) t.resume();
    for (int i = 0; i < steps && !t.done(); ++i) losses.push_back(t.step().loss);
    return std::make_pair(m, out.empty() ? std::string() : t.save_checkpoint());
  };
  std::vector<double> fp32, bf16;
  run("fp32", fp32, 6, "", false);
  auto [m, unused] = run("bf16", bf16, 6, "", false);
  (void)unused;
  // The model (base and adapters) runs in bf16.
  for (auto& p : m->lm->named_parameters()) BOOST_TEST((p.value().scalar_type() == at::kBFloat16), p.key());
  // bf16 rounds activations to 8 bits of mantissa: the losses track the fp32 run within 2%.
  for (size_t i = 0; i < fp32.size(); ++i)
    BOOST_TEST(std::abs(bf16[i] - fp32[i]) < 0.02 * fp32[i],
               "step " << i + 1 << ": " << bf16[i] << " vs " << fp32[i]);
  BOOST_TEST(bf16.back() < bf16.front());
  // Resume: 3 steps, checkpoint, a fresh process state, 3 more: the same losses bit for bit.
  std::string dir = "/tmp/ft_precision_test_" + std::to_string(::getpid());
  fs::remove_all(dir);
  std::vector<double> resumed;
  auto first = run("bf16", resumed, 3, dir, false);
  // The checkpoint holds the fp32 masters, not the bf16-rounded weights.
  auto sd = io::load_safetensors_file(first.second + "/state.safetensors");
  BOOST_TEST((sd.at("param.model.layers.0.self_attn.q_proj.lora.lora_A").scalar_type() == at::kFloat));
  auto st = nlohmann::json::parse(fs::read_file(first.second + "/trainer_state.json"));
  BOOST_TEST(st.at("precision").get<std::string>() == "bf16");
  BOOST_TEST(st.at("optimizer").get<std::string>() == "adamw_fused");  // masters are fp32 CPU tensors
  run("bf16", resumed, 6, dir, true);
  BOOST_TEST(resumed.size() == bf16.size());
  for (size_t i = 0; i < bf16.size(); ++i) BOOST_TEST(resumed[i] == bf16[i], "step " << i + 1);
  fs::remove_all(dir);
}
