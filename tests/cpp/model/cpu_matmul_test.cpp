// oneDNN-backed CPU linear (model/cpu_matmul.h): values and gradients equal LibTorch's at::linear (up to
// float summation order), only the gradients that are needed are computed, odd shapes and strides work,
// and concurrent calls agree. The CPU build has oneDNN; without it onednn_linear is at::linear.
#include <boost/test/unit_test.hpp>

#include <thread>

#include "model/cpu_matmul.h"
#include "model/linear.h"

using namespace ft::model;

namespace {

double rel_diff(const at::Tensor& a, const at::Tensor& b) {
  const double scale = std::max(1.0, b.abs().max().item<double>());
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>() / scale;
}

struct Case {
  std::vector<int64_t> x_shape;
  int64_t n;
  bool bias;
};

}  // namespace

BOOST_AUTO_TEST_CASE(enabled_in_the_cpu_build) {
#if FT_HAS_ONEDNN
  BOOST_TEST(onednn_linear_enabled());
  BOOST_TEST(cpu_matmul_report().rfind("oneDNN ", 0) == 0);
#else
  BOOST_TEST(!onednn_linear_enabled());
#endif
}

BOOST_AUTO_TEST_CASE(values_and_gradients_equal_at_linear) {
  torch::manual_seed(3);
  for (const Case& c : {Case{{5, 7}, 3, false}, Case{{2, 4, 16}, 32, true}, Case{{300, 64}, 96, true},
                        Case{{3, 33, 70}, 130, false}, Case{{1024, 64}, 1, true}}) {
    const int64_t K = c.x_shape.back();
    auto x = at::randn(c.x_shape).requires_grad_(true);
    auto w = at::randn({c.n, K}).requires_grad_(true);
    auto b = c.bias ? at::randn({c.n}).requires_grad_(true) : at::Tensor();
    auto gy_shape = c.x_shape;
    gy_shape.back() = c.n;
    auto gy = at::randn(gy_shape);

    auto y = onednn_linear(x, w, b);
    auto y_ref = at::linear(x, w, b);
    BOOST_TEST(y.sizes() == y_ref.sizes());
    BOOST_TEST(rel_diff(y, y_ref) < 1e-5);

    std::vector<at::Tensor> in{x, w};
    if (c.bias) in.push_back(b);
    auto g = torch::autograd::grad({y}, in, {gy});
    auto g_ref = torch::autograd::grad({y_ref}, in, {gy});
    for (size_t i = 0; i < in.size(); ++i) {
      BOOST_TEST_CONTEXT("shape " << c.x_shape << " n " << c.n << " input " << i) {
        BOOST_TEST(g[i].sizes() == g_ref[i].sizes());
        BOOST_TEST(rel_diff(g[i], g_ref[i]) < 1e-5);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(frozen_weight_gets_no_gradient_and_input_still_does) {
  auto x = at::randn({6, 8}).requires_grad_(true);
  auto w = at::randn({4, 8});  // frozen, as a LoRA base weight
  auto y = onednn_linear(x, w, at::Tensor());
  y.sum().backward();
  BOOST_TEST(!w.grad().defined());
  BOOST_TEST(rel_diff(x.grad(), w.sum(0).expand({6, 8})) < 1e-6);

  auto x2 = at::randn({6, 8});  // data, no gradient: only the weight's
  auto w2 = at::randn({4, 8}).requires_grad_(true);
  onednn_linear(x2, w2, at::Tensor()).sum().backward();
  BOOST_TEST(rel_diff(w2.grad(), x2.sum(0).expand({4, 8})) < 1e-6);
}

BOOST_AUTO_TEST_CASE(strided_inputs_empty_rows_and_zero_width) {
  auto base = at::randn({16, 10});
  auto x = base.t();                 // [10, 16], non-contiguous
  auto w = at::randn({16, 12}).t();  // [12, 16] as a transposed view
  BOOST_TEST(rel_diff(onednn_linear(x, w, at::Tensor()), at::linear(x, w)) < 1e-5);
  auto empty = onednn_linear(at::randn({0, 16}), at::randn({5, 16}), at::Tensor());
  BOOST_TEST(empty.sizes() == (std::vector<int64_t>{0, 5}));
  auto b = at::randn({5});
  auto zero_k = onednn_linear(at::randn({3, 0}), at::randn({5, 0}), b);
  BOOST_TEST(at::equal(zero_k, b.expand({3, 5})));
}

BOOST_AUTO_TEST_CASE(linear_module_routes_several_rows_through_onednn) {
  // The module result equals at::linear for a batch and for one decoding row (the gemv path).
  LinearImpl lin(24, 40, true);
  torch::NoGradGuard ng;
  lin.weight.normal_();
  lin.bias.normal_();
  for (auto shape : {std::vector<int64_t>{3, 5, 24}, std::vector<int64_t>{1, 1, 24}}) {
    auto x = at::randn(shape);
    BOOST_TEST(rel_diff(lin.forward(x), at::linear(x, lin.weight, lin.bias)) < 1e-5);
  }
}

BOOST_AUTO_TEST_CASE(concurrent_calls_agree) {
  auto x = at::randn({257, 128}), w = at::randn({96, 128});
  auto want = onednn_linear(x, w, at::Tensor());
  std::vector<std::thread> threads;
  std::vector<bool> same(4, false);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      bool ok = true;
      for (int i = 0; i < 20; ++i) ok = ok && at::equal(onednn_linear(x, w, at::Tensor()), want);
      same[t] = ok;
    });
  for (auto& th : threads) th.join();
  for (bool s : same) BOOST_TEST(s);
}
