// Generation: a left-padded batch gives each prompt's greedy tokens, a seed repeats samples, EOS / stop
// strings / callbacks end sequences, and the logit filters (top-k, top-p, min-p, repetition penalty)
// keep exactly the tokens HF's processors keep on hand-made logits.
#include <boost/test/unit_test.hpp>

#include <cmath>

#include "core/error.h"
#include "model/model.h"

using namespace ft::model;

namespace {
std::shared_ptr<Model> tiny(uint64_t seed, const std::string& arch = "qwen2") {
  NewModelOptions o;
  o.arch = arch;
  o.hidden = 64;
  o.heads = 4;
  o.kv_heads = 2;
  o.vocab = 300;
  o.seed = seed;
  o.init_std = 0.1;
  return Model::create(o);
}
std::vector<bool> kept(const at::Tensor& filtered) {
  std::vector<bool> k;
  for (int64_t i = 0; i < filtered.size(-1); ++i) k.push_back(std::isfinite(filtered[0][i].item<float>()));
  return k;
}
at::Tensor hand_logits() {  // probabilities 0.5, 0.2, 0.15, 0.1, 0.05 (log-space)
  return at::log(at::tensor(std::vector<float>{0.5f, 0.2f, 0.15f, 0.1f, 0.05f})).view({1, 5});
}
}  // namespace

BOOST_AUTO_TEST_CASE(batch_with_left_padding_equals_each_prompt_alone) {
  for (const char* arch : {"qwen2", "llama"}) {
    auto m = tiny(21, arch);
    std::vector<std::vector<int32_t>> prompts = {{256, 72, 105}, {256, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {256}};
    GenerateOptions opt;
    opt.max_new_tokens = 24;
    opt.sampling.temperature = 0;
    opt.eos_ids = std::vector<int32_t>{};
    auto batched = m->generate_ids(prompts, opt);
    for (size_t b = 0; b < prompts.size(); ++b) {
      auto alone = m->generate_ids({prompts[b]}, opt);
      BOOST_TEST(batched.ids[b] == alone.ids[0], arch << " prompt " << b);
      BOOST_TEST(batched.ids[b].size() == 24u);
      BOOST_TEST(batched.finish_reason[b] == "length");
    }
  }
}

BOOST_AUTO_TEST_CASE(seed_makes_sampling_repeatable) {
  auto m = tiny(4);
  GenerateOptions opt;
  opt.max_new_tokens = 32;
  opt.sampling.temperature = 1.0;
  opt.eos_ids = std::vector<int32_t>{};
  opt.seed = 7;
  auto a = m->generate_ids({{256, 65}, {256, 66, 67}}, opt);
  auto b = m->generate_ids({{256, 65}, {256, 66, 67}}, opt);
  BOOST_TEST(a.ids[0] == b.ids[0]);
  BOOST_TEST(a.ids[1] == b.ids[1]);
  opt.seed = 8;
  auto c = m->generate_ids({{256, 65}, {256, 66, 67}}, opt);
  BOOST_TEST(a.ids[0] != c.ids[0]);
  // Top-k 1 sampling is greedy whatever the seed.
  opt.sampling.top_k = 1;
  auto k1 = m->generate_ids({{256, 65}}, opt);
  GenerateOptions greedy = opt;
  greedy.sampling = SamplingParams{};
  greedy.sampling.temperature = 0;
  BOOST_TEST(k1.ids[0] == m->generate_ids({{256, 65}}, greedy).ids[0]);
}

BOOST_AUTO_TEST_CASE(eos_stop_strings_and_callback_end_sequences) {
  auto m = tiny(13);
  GenerateOptions opt;
  opt.max_new_tokens = 20;
  opt.sampling.temperature = 0;
  opt.eos_ids = std::vector<int32_t>{};
  auto free_run = m->generate_ids({{256, 80}}, opt);
  const auto& ref = free_run.ids[0];
  BOOST_REQUIRE(ref.size() == 20u);

  // EOS: the token greedy decoding emits at step 5 ends the sequence there (included in ids).
  auto first = std::find(ref.begin(), ref.end(), ref[5]) - ref.begin();
  GenerateOptions eos = opt;
  eos.eos_ids = std::vector<int32_t>{ref[5]};
  auto r = m->generate_ids({{256, 80}}, eos);
  BOOST_TEST(r.finish_reason[0] == "eos");
  BOOST_TEST(r.ids[0].size() == static_cast<size_t>(first + 1));

  // Stop string: two bytes of the free-running text; the text is cut before them.
  std::string text = free_run.text[0];
  BOOST_REQUIRE(text.size() >= 8u);
  GenerateOptions stop = opt;
  stop.stop = {text.substr(4, 2)};
  auto s = m->generate_ids({{256, 80}}, stop);
  BOOST_TEST(s.finish_reason[0] == "stop");
  BOOST_TEST(s.text[0] == text.substr(0, text.find(text.substr(4, 2))));

  // Streaming callback: sees every token in order, and returning false ends the sequence.
  std::vector<int32_t> streamed;
  GenerateOptions cb = opt;
  cb.stream = [&](int seq, int32_t t) {
    BOOST_TEST(seq == 0);
    streamed.push_back(t);
    return streamed.size() < 6;
  };
  auto c = m->generate_ids({{256, 80}}, cb);
  BOOST_TEST(c.finish_reason[0] == "callback");
  BOOST_TEST(c.ids[0] == streamed);
  BOOST_TEST((streamed == std::vector<int32_t>(ref.begin(), ref.begin() + 6)));

  // Text prompts go through the byte tokenizer (BOS prepended).
  auto t = m->generate({std::string("P")}, opt);
  BOOST_TEST(t.ids[0] == ref);
  BOOST_TEST(t.text[0] == text);
}

BOOST_AUTO_TEST_CASE(top_k_top_p_min_p_on_hand_made_logits) {
  auto l = hand_logits();
  BOOST_TEST((kept(filter_top_k(l, 2)) == std::vector<bool>{true, true, false, false, false}));
  BOOST_TEST((kept(filter_top_k(l, 0)) == std::vector<bool>(5, true)));
  // top_p 0.7: ascending cumulative 0.05, 0.15, 0.30, 0.50, 1.0; remove where <= 0.3.
  BOOST_TEST((kept(filter_top_p(l, 0.7)) == std::vector<bool>{true, true, false, false, false}));
  // top_p 0.75: remove where <= 0.25 -> 0.05 and 0.1 go, 0.15 stays.
  BOOST_TEST((kept(filter_top_p(l, 0.75)) == std::vector<bool>{true, true, true, false, false}));
  // A tiny top_p still keeps the best token.
  BOOST_TEST((kept(filter_top_p(l, 0.01)) == std::vector<bool>{true, false, false, false, false}));
  // min_p 0.35: threshold 0.175 -> 0.5 and 0.2 stay.
  BOOST_TEST((kept(filter_min_p(l, 0.35)) == std::vector<bool>{true, true, false, false, false}));
  BOOST_TEST((kept(filter_min_p(l, 0.25)) == std::vector<bool>{true, true, true, false, false}));
}

BOOST_AUTO_TEST_CASE(repetition_penalty_divides_positive_multiplies_negative) {
  auto l = at::tensor(std::vector<float>{2.0f, -2.0f, 1.0f, -1.0f}).view({1, 4});
  apply_repetition_penalty(l, {{0, 1, 1}}, 2.0);
  BOOST_TEST(l[0][0].item<float>() == 1.0f);
  BOOST_TEST(l[0][1].item<float>() == -4.0f);
  BOOST_TEST(l[0][2].item<float>() == 1.0f);
  BOOST_TEST(l[0][3].item<float>() == -1.0f);
}

BOOST_AUTO_TEST_CASE(sampling_follows_the_filtered_distribution) {
  // With top_k 2 on probabilities 0.5/0.2, the renormalised draw gives token 0 ~ 5/7 of the time.
  SamplingParams p;
  p.top_k = 2;
  at::Generator gen = at::detail::createCPUGenerator(1);
  auto l = hand_logits().expand({4000, 5}).contiguous();
  auto t = select_tokens(l, p, gen);
  BOOST_TEST((t >= 2).sum().item<int64_t>() == 0);
  double frac0 = (t == 0).to(at::kDouble).mean().item<double>();
  BOOST_TEST(std::abs(frac0 - 5.0 / 7.0) < 0.03);
}

BOOST_AUTO_TEST_CASE(generate_rejects_bad_prompts) {
  auto m = tiny(1);
  GenerateOptions opt;
  BOOST_CHECK_EXCEPTION(m->generate_ids({{1, 2}, {}}, opt), ft::Error, [](const ft::Error& e) {
    return std::string(e.what()).find("prompt 2 has no tokens") != std::string::npos;
  });
  BOOST_CHECK_EXCEPTION(m->generate_ids({{1, 999}}, opt), ft::Error, [](const ft::Error& e) {
    return std::string(e.what()).find("token id 999 outside the vocabulary") != std::string::npos;
  });
}
