// Adafactor against hand-computed values (transformers' algorithm evaluated in double on paper-sized
// tensors), SGD against torch::optim::SGD bit for bit, and both optimizers' state round trips.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "core/error.h"
#include "train/optimizer.h"

using namespace ft;

namespace {

const std::vector<float> kP = {0.5f, -1.0f, 2.0f, 0.25f, 1.5f, -0.75f};
const std::vector<float> kG1 = {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f};
const std::vector<float> kG2 = {-0.3f, 0.1f, 0.2f, -0.1f, 0.05f, 0.4f};

at::Tensor vec(const std::vector<float>& v, std::vector<int64_t> shape) {
  return torch::tensor(v).reshape(shape).clone();
}

// Two Adafactor steps with kG1, kG2 on kP shaped `shape`; returns the parameter after each step.
std::vector<at::Tensor> two_steps(const train::AdafactorOptions& o, std::vector<int64_t> shape, double lr) {
  at::Tensor p = vec(kP, shape).set_requires_grad(true);
  train::Adafactor opt({{"p", p}}, o);
  std::vector<at::Tensor> out;
  for (auto* g : {&kG1, &kG2}) {
    p.mutable_grad() = vec(*g, shape);
    opt.step(lr);
    out.push_back(p.detach().clone().reshape({-1}));
  }
  return out;
}

void expect_close(const at::Tensor& got, const std::vector<double>& want, double tol,
                  const std::string& what) {
  for (size_t i = 0; i < want.size(); ++i) {
    double g = got[static_cast<int64_t>(i)].item<double>();
    BOOST_TEST(std::abs(g - want[i]) <= tol, what << "[" << i << "] = " << g << ", expected " << want[i]);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(adafactor_vector_first_step_is_lr_times_sign) {
  // Step 1: beta2 = 1 - 1^-0.8 = 0, so v = g^2 + eps1 and the update is g / |g| = sign(g) (RMS 1: no
  // clipping); with an external lr 0.1 the parameter moves by exactly 0.1 against the gradient's sign.
  train::AdafactorOptions o;
  o.relative_step = false;
  o.scale_parameter = false;
  auto p = two_steps(o, {6}, 0.1);
  expect_close(p[0], {0.4, -0.9, 1.9, 0.15, 1.6, -0.85}, 1e-6, "step 1");
  // Step 2 (beta2 = 1 - 2^-0.8 = 0.42565...): v = beta2 g1^2 + (1 - beta2) g2^2, update g2/sqrt(v) clipped
  // to RMS 1, times 0.1.
  expect_close(p[1], {0.526832113, -0.966270923, 1.81920925, 0.186798637, 1.58477481, -0.930790745}, 2e-6,
               "step 2");
}

BOOST_AUTO_TEST_CASE(adafactor_matrix_factored_second_moment) {
  // 2x3 parameter: row/column means of g^2 replace the full second moment; update g_ij / sqrt(row_i col_j /
  // mean(row)), clipped to RMS 1.
  train::AdafactorOptions o;
  o.relative_step = false;
  o.scale_parameter = false;
  auto p = two_steps(o, {2, 3}, 0.1);
  expect_close(p[0], {0.438165306, -0.905313585, 1.88598246, 0.144534391, 1.60093606, -0.847234487}, 2e-6,
               "step 1");
  expect_close(p[1], {0.605718358, -0.960988468, 1.81328192, 0.176521095, 1.58499314, -0.930507832}, 2e-6,
               "step 2");
}

BOOST_AUTO_TEST_CASE(adafactor_relative_step_scale_parameter_beta1_weight_decay) {
  // relative_step: step size min(1e-2, 1/sqrt(t)) times max(eps2, RMS(p)) (scale_parameter): at step 1,
  // 0.01 * RMS(kP) = 0.01 * sqrt(8.125 / 6) = 0.0116368667; the lr passed in is ignored.
  train::AdafactorOptions o;
  o.beta1 = 0.9;
  o.weight_decay = 0.1;
  at::Tensor p = vec(kP, {2, 3}).set_requires_grad(true);
  train::Adafactor opt({{"p", p}}, o);
  p.mutable_grad() = vec(kG1, {2, 3});
  opt.step(123.0);
  BOOST_TEST(std::abs(opt.last_lr() - 0.011636866703140784) < 1e-9, opt.last_lr());
  expect_close(p.detach().reshape({-1}),
               {0.498698595, -0.99773446, 1.99634582, 0.248481789, 1.49942905, -0.75025874}, 2e-6, "step 1");
  p.mutable_grad() = vec(kG2, {2, 3});
  opt.step(123.0);
  expect_close(p.detach().reshape({-1}),
               {0.499418554, -0.996230335, 1.99198696, 0.247460184, 1.49855846, -0.751372936}, 2e-6,
               "step 2");
  // warmup_init: step size min(1e-6 t, 1/sqrt(t)) * RMS.
  train::AdafactorOptions w;
  w.warmup_init = true;
  auto q = two_steps(w, {6}, 0.0);
  expect_close(q[0], {0.499998836, -0.999998836, 1.99999884, 0.249998836, 1.50000116, -0.750001164}, 1e-7,
               "warmup 1");
  expect_close(q[1], {0.500001788, -1.00000038, 1.99999696, 0.249999693, 1.50000081, -0.750003044}, 1e-7,
               "warmup 2");
  w.relative_step = false;
  BOOST_CHECK_THROW(train::Adafactor({{"p", p}}, w), Error);  // warmup_init needs relative_step
}

BOOST_AUTO_TEST_CASE(adafactor_state_round_trip_continues_exactly) {
  torch::manual_seed(5);
  train::AdafactorOptions o;
  o.relative_step = false;
  o.beta1 = 0.8;
  at::Tensor w0 = torch::randn({8, 5}), b0 = torch::randn({5});
  at::Tensor w = w0.clone().set_requires_grad(true), b = b0.clone().set_requires_grad(true);
  std::vector<at::Tensor> grads;
  for (int i = 0; i < 8; ++i) grads.push_back(torch::randn({8, 5})), grads.push_back(torch::randn({5}));
  train::Adafactor a({{"w", w}, {"b", b}}, o);
  for (int s = 0; s < 4; ++s) {
    w.mutable_grad() = grads[2 * s];
    b.mutable_grad() = s == 1 ? at::Tensor() : grads[2 * s + 1];  // b skips a step: its own step count
    a.step(0.05);
  }
  auto st = a.state();
  std::map<std::string, at::Tensor> sm(st.begin(), st.end());
  BOOST_TEST(sm.at("w.step").item<int64_t>() == 4);
  BOOST_TEST(sm.at("b.step").item<int64_t>() == 3);
  BOOST_TEST((sm.at("w.exp_avg_sq_row").sizes() == at::IntArrayRef{8}));
  BOOST_TEST((sm.at("w.exp_avg_sq_col").sizes() == at::IntArrayRef{5}));
  BOOST_TEST((sm.at("b.exp_avg_sq").sizes() == at::IntArrayRef{5}));
  at::Tensor w2 = w.detach().clone().set_requires_grad(true), b2 = b.detach().clone().set_requires_grad(true);
  train::Adafactor resumed({{"w", w2}, {"b", b2}}, o);
  resumed.load_state(sm);
  BOOST_TEST(resumed.steps() == 4);
  for (int s = 4; s < 8; ++s) {
    w.mutable_grad() = grads[2 * s];
    b.mutable_grad() = grads[2 * s + 1];
    w2.mutable_grad() = grads[2 * s];
    b2.mutable_grad() = grads[2 * s + 1];
    a.step(0.05);
    resumed.step(0.05);
  }
  BOOST_TEST(at::equal(w, w2));
  BOOST_TEST(at::equal(b, b2));
  BOOST_TEST((w - w0).abs().max().item<float>() > 0.05f);
  sm.erase("w.exp_avg_sq_col");
  train::Adafactor broken({{"w", w2}, {"b", b2}}, o);
  BOOST_CHECK_THROW(broken.load_state(sm), Error);
}

BOOST_AUTO_TEST_CASE(sgd_matches_torch_sgd_bitwise) {
  struct Case {
    double momentum, dampening, weight_decay;
    bool nesterov;
  };
  for (Case c : {Case{0, 0, 0, false}, Case{0.9, 0.1, 0.01, false}, Case{0.9, 0, 0.05, true},
                 Case{0.5, 0, 0, false}}) {
    torch::manual_seed(1);
    at::Tensor p0 = torch::randn({64, 33});
    at::Tensor a = p0.clone().set_requires_grad(true), b = p0.clone().set_requires_grad(true);
    train::SgdOptions o;
    o.momentum = c.momentum;
    o.dampening = c.dampening;
    o.weight_decay = c.weight_decay;
    o.nesterov = c.nesterov;
    train::Sgd mine({{"w", a}}, o);
    torch::optim::SGD ref({b}, torch::optim::SGDOptions(0.03)
                                   .momentum(c.momentum)
                                   .dampening(c.dampening)
                                   .weight_decay(c.weight_decay)
                                   .nesterov(c.nesterov));
    for (int s = 0; s < 12; ++s) {
      at::Tensor g = torch::randn({64, 33});
      a.mutable_grad() = g.clone();
      b.mutable_grad() = g.clone();
      mine.step(0.03);
      ref.step();
    }
    BOOST_TEST(at::equal(a, b), "momentum " << c.momentum << " nesterov " << c.nesterov << ": max diff "
                                            << (a - b).abs().max().item<float>());
    BOOST_TEST((a - p0).abs().max().item<float>() > 1e-2f);
  }
}

BOOST_AUTO_TEST_CASE(sgd_state_round_trip_and_option_errors) {
  torch::manual_seed(2);
  train::SgdOptions o;
  o.momentum = 0.9;
  at::Tensor a = torch::randn({10}).set_requires_grad(true), b = torch::randn({3}).set_requires_grad(true);
  train::Sgd s({{"a", a}, {"b", b}}, o);
  a.mutable_grad() = torch::randn({10});
  s.step(0.1);  // b has no grad yet: no momentum buffer, as torch
  auto st = s.state();
  std::map<std::string, at::Tensor> sm(st.begin(), st.end());
  BOOST_TEST(sm.count("a.momentum_buffer") == 1u);
  BOOST_TEST(sm.count("b.momentum_buffer") == 0u);
  at::Tensor a2 = a.detach().clone().set_requires_grad(true), b2 = b.detach().clone().set_requires_grad(true);
  train::Sgd r({{"a", a2}, {"b", b2}}, o);
  r.load_state(sm);
  for (int i = 0; i < 3; ++i) {
    at::Tensor ga = torch::randn({10}), gb = torch::randn({3});
    a.mutable_grad() = ga.clone();
    b.mutable_grad() = gb.clone();
    a2.mutable_grad() = ga.clone();
    b2.mutable_grad() = gb.clone();
    s.step(0.1);
    r.step(0.1);
  }
  BOOST_TEST(at::equal(a, a2));
  BOOST_TEST(at::equal(b, b2));
  o.nesterov = true;
  o.dampening = 0.1;
  try {
    train::Sgd bad({{"a", a}}, o);
    BOOST_FAIL("expected an error");
  } catch (const Error& e) {
    BOOST_TEST(std::string(e.what()).find("Nesterov momentum requires a momentum and zero dampening") !=
               std::string::npos);
  }
  BOOST_CHECK_THROW(train::make_optimizer("lion", {{"a", a}}, {}), Error);
  BOOST_TEST(train::make_optimizer("sgd", {{"a", a}}, {})->name() == "sgd");
  BOOST_TEST(train::make_optimizer("adafactor", {{"a", a}}, {})->name() == "adafactor");
}
