// Transformer forward: KV-cache decoding equals full recomputation, left padding and packed sequences
// (segment_ids) give the same logits as each sequence alone, in several shapes (GQA, tied/untied, bias).
#include <boost/test/unit_test.hpp>

#include "core/error.h"
#include "model/model.h"

using namespace ft::model;

namespace {

std::shared_ptr<Model> tiny(const std::string& arch, int64_t heads, int64_t kv, bool tie, uint64_t seed) {
  NewModelOptions o;
  o.arch = arch;
  o.hidden = 64;
  o.layers = 2;
  o.heads = heads;
  o.kv_heads = kv;
  o.vocab = 300;
  o.tie = tie;
  o.seed = seed;
  o.init_std = 0.1;
  return Model::create(o);
}

at::Tensor ids_tensor(const std::vector<int64_t>& v) {
  return at::tensor(v, at::kLong).view({1, -1});
}

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace

BOOST_AUTO_TEST_CASE(kv_cache_matches_full_recompute_64_steps) {
  torch::NoGradGuard ng;
  for (auto [arch, heads, kv, tie] :
       {std::tuple{"qwen2", 4, 2, true}, std::tuple{"llama", 4, 1, false}, std::tuple{"llama", 4, 4, true}}) {
    auto m = tiny(arch, heads, kv, tie, 11);
    std::vector<int64_t> seq = {256, 72, 101, 108, 108, 111};
    KVCache cache(m->config().num_hidden_layers);
    ForwardInput in;
    in.input_ids = ids_tensor(seq);
    in.cache = &cache;
    auto step_logits = m->forward(in).select(1, seq.size() - 1);
    double worst = 0;
    at::Generator gen = at::detail::createCPUGenerator(3);
    for (int step = 0; step < 64; ++step) {
      // Full recomputation over the whole prefix, last position.
      ForwardInput full;
      full.input_ids = ids_tensor(seq);
      auto ref = m->forward(full).select(1, seq.size() - 1);
      worst = std::max(worst, max_diff(step_logits, ref));
      int64_t next = at::multinomial(ref.softmax(-1), 1, false, gen).item<int64_t>();
      seq.push_back(next);
      ForwardInput one;
      one.input_ids = ids_tensor({next});
      one.cache = &cache;
      step_logits = m->forward(one).select(1, 0);
    }
    BOOST_TEST_MESSAGE(arch << " heads " << heads << "/" << kv << ": max |cached - full| = " << worst);
    BOOST_TEST(worst <= 1e-4);
    BOOST_TEST(cache.length == static_cast<int64_t>(seq.size()));
  }
}

BOOST_AUTO_TEST_CASE(left_padding_gives_same_logits_as_alone) {
  torch::NoGradGuard ng;
  auto m = tiny("qwen2", 4, 2, true, 5);
  std::vector<std::vector<int32_t>> prompts = {{256, 1, 2, 3, 4, 5, 6, 7}, {256, 9}, {256, 40, 41, 42}};
  auto [ids, mask] = left_pad(prompts, 258, at::kCPU);
  ForwardInput in;
  in.input_ids = ids;
  in.attention_mask = mask;
  auto batched = m->forward(in);
  for (size_t b = 0; b < prompts.size(); ++b) {
    std::vector<int64_t> p(prompts[b].begin(), prompts[b].end());
    ForwardInput one;
    one.input_ids = ids_tensor(p);
    auto alone = m->forward(one)[0];
    const int64_t n = static_cast<int64_t>(p.size()), T = ids.size(1);
    BOOST_TEST(max_diff(batched[b].narrow(0, T - n, n), alone) <= 1e-5);
  }
}

BOOST_AUTO_TEST_CASE(packed_segments_equal_separate_sequences) {
  torch::NoGradGuard ng;
  auto m = tiny("llama", 4, 2, false, 9);
  std::vector<int64_t> a = {256, 10, 11, 12, 13}, b = {256, 20, 21};
  std::vector<int64_t> packed = a, seg(a.size(), 0);
  packed.insert(packed.end(), b.begin(), b.end());
  seg.insert(seg.end(), b.size(), 1);
  ForwardInput in;
  in.input_ids = ids_tensor(packed);
  in.segment_ids = ids_tensor(seg);
  auto out = m->forward(in)[0];
  ForwardInput ia, ib;
  ia.input_ids = ids_tensor(a);
  ib.input_ids = ids_tensor(b);
  BOOST_TEST(max_diff(out.narrow(0, 0, 5), m->forward(ia)[0]) <= 1e-5);
  BOOST_TEST(max_diff(out.narrow(0, 5, 3), m->forward(ib)[0]) <= 1e-5);
  // Without segment ids the second sequence sees the first one: the logits must differ.
  ForwardInput plain;
  plain.input_ids = ids_tensor(packed);
  BOOST_TEST(max_diff(m->forward(plain)[0].narrow(0, 5, 3), m->forward(ib)[0]) > 1e-3);
}

BOOST_AUTO_TEST_CASE(cache_rows_repeat_for_group_sampling) {
  torch::NoGradGuard ng;
  auto m = tiny("qwen2", 4, 2, true, 2);
  KVCache cache(m->config().num_hidden_layers);
  ForwardInput in;
  in.input_ids = ids_tensor({256, 5, 6, 7});
  in.cache = &cache;
  m->forward(in);
  KVCache group = cache.repeat_rows(3);
  BOOST_TEST(group.batch() == 3);
  ForwardInput next;
  next.input_ids = at::tensor(std::vector<int64_t>{8, 9, 8}, at::kLong).view({3, 1});
  next.cache = &group;
  auto out = m->forward(next);
  ForwardInput full;
  full.input_ids = ids_tensor({256, 5, 6, 7, 9});
  BOOST_TEST(max_diff(out[1][0], m->forward(full)[0][4]) <= 1e-4);
  BOOST_TEST(max_diff(out[0][0], out[2][0]) == 0.0);
}

BOOST_AUTO_TEST_CASE(parameter_names_follow_hf) {
  auto m = tiny("qwen2", 4, 2, false, 1);
  std::vector<std::string> names;
  for (const auto& p : m->parameters()) names.push_back(p.name);
  BOOST_TEST(names.front() == "model.embed_tokens.weight");
  BOOST_TEST(names.back() == "lm_head.weight");
  BOOST_TEST(std::count(names.begin(), names.end(), "model.layers.1.self_attn.k_proj.bias") == 1);
  BOOST_TEST(std::count(names.begin(), names.end(), "model.layers.1.self_attn.o_proj.bias") == 0);
  BOOST_TEST(std::count(names.begin(), names.end(), "model.layers.0.mlp.down_proj.weight") == 1);
  auto shapes = expected_shapes(m->config());
  BOOST_TEST(shapes.size() == names.size());
  for (const auto& p : m->parameters()) BOOST_TEST((shapes.at(p.name) == p.shape), p.name);
  // 300*64 embed + lm_head, per layer 4 projections (+ q/k/v bias) + MLP + 2 norms, final norm.
  const int64_t per_layer = 64 * 64 + 2 * 32 * 64 + 64 * 64 + (64 + 32 + 32) + 3 * 64 * 256 + 2 * 64;
  BOOST_TEST(m->num_params() == 2 * 300 * 64 + 2 * per_layer + 64);
}

BOOST_AUTO_TEST_CASE(bad_input_errors) {
  auto m = tiny("llama", 4, 2, false, 1);
  ForwardInput in;
  in.input_ids = ids_tensor({1, 2, 300});
  BOOST_CHECK_EXCEPTION(m->forward(in), ft::Error, [](const ft::Error& e) {
    return std::string(e.what()).find("token id 300 is outside the vocabulary [0, 300)") != std::string::npos;
  });
  in.input_ids = at::tensor(std::vector<int64_t>{1, 2}, at::kLong);
  BOOST_CHECK_THROW(m->forward(in), ft::Error);
}

// loss_sum runs the head and softmax on labelled positions only; the loss and the gradients equal those of
// full logits with ignore_index (labels shifted inside), for a batch with masked prompts and padding.
BOOST_AUTO_TEST_CASE(loss_sum_on_label_positions_equals_full_logits) {
  auto m = tiny("qwen2", 4, 2, true, 3);
  ForwardInput in;
  in.input_ids =
      at::tensor(std::vector<int64_t>{5, 9, 17, 33, 2, 8, 1, 4, 6, 7, 0, 0}, at::kLong).view({2, 6});
  in.attention_mask =
      at::tensor(std::vector<int64_t>{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, at::kLong).view({2, 6});
  // Row 0: prompt of 3 tokens masked; row 1: prompt of 2, then 2 labels, then padding.
  auto labels =
      at::tensor(std::vector<int64_t>{-100, -100, -100, 33, 2, 8, -100, -100, 6, 7, -100, -100}, at::kLong)
          .view({2, 6});
  at::Tensor loss = m->lm->loss_sum(in, labels, -100);
  loss.backward();
  auto g = m->lm->model->embed_tokens->weight.grad().clone();
  m->lm->zero_grad();
  at::Tensor logits = m->forward(in);
  at::Tensor ref = at::cross_entropy_loss(logits.slice(1, 0, 5).reshape({-1, 300}),
                                          labels.slice(1, 1, 6).reshape({-1}), {}, at::Reduction::Sum, -100);
  ref.backward();
  BOOST_TEST(std::abs(loss.item<double>() - ref.item<double>()) < 1e-5 * std::abs(ref.item<double>()));
  BOOST_TEST(max_diff(g, m->lm->model->embed_tokens->weight.grad()) < 1e-5 * g.abs().max().item<double>());
  // 5 predicted tokens (33, 2, 8 in row 0; 6, 7 in row 1), each near ln(300) = 5.7 for a random model.
  BOOST_TEST(loss.item<double>() > 5 * 4.0);
  // All positions unlabelled: zero loss.
  BOOST_TEST(m->lm->loss_sum(in, at::full({2, 6}, -100, at::kLong), -100).item<double>() == 0.0);
  BOOST_CHECK_THROW(m->lm->loss_sum(in, labels.slice(1, 0, 5), -100), ft::Error);
}
