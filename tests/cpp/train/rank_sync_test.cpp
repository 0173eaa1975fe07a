// Label-token normalisation across ranks: two trainers (rank 0 and 1 of 2) in one process, joined by a
// fake world that sums through the RankSync interface on two threads, take the same steps as one
// trainer over the whole global batch; without a RankSync, world_size 2 is an error, not a silent
// per-rank normalisation.
#include <boost/test/unit_test.hpp>

#include <thread>

#include "core/error.h"
#include "fake_rank_sync.h"
#include "fixtures.h"
#include "train/rank_sync.h"
#include "train/trainer.h"

using namespace ft;
using ft::test::FakeRankSync;
using ft::test::FakeWorld;

namespace {

std::shared_ptr<model::Model> tiny() {
  return ft::test::tiny_lm(3);
}

// Examples of very different label counts, so per-rank normalisation would give another loss.
std::vector<data::Example> examples(int n) {
  auto tok = text::make_byte_tokenizer();
  std::vector<data::Row> rows;
  for (int i = 0; i < n; ++i)
    rows.push_back({nlohmann::json{{"prompt", std::to_string(i) + "?"},
                                   {"completion", std::string(1 + i % 9, 'a' + i % 26)}},
                    "row " + std::to_string(i)});
  return data::format_rows(rows, *tok, nullptr, {}).examples;
}

}  // namespace

BOOST_AUTO_TEST_CASE(two_ranks_normalise_by_the_global_label_count) {
  auto ex = examples(32);
  train::TrainerOptions o;
  o.max_steps = 2;
  o.seed = 5;
  o.grad_accum = 2;
  o.schedule.kind = "constant";
  o.schedule.lr = 1e-2;
  o.adamw.eps = 1e-3;  // as in accumulated_step_equals_big_batch_step: keeps fp32 rounding small
  // One process over the whole global batch: 8 per micro-batch.
  o.batch_size = 8;
  auto mbig = tiny();
  train::SftTrainer big(mbig, ex, {}, o);
  // Two ranks of 4 per micro-batch: the sampler gives rank r slice r of the same global batches.
  o.batch_size = 4;
  o.world_size = 2;
  FakeWorld world(2);
  std::vector<std::shared_ptr<model::Model>> models{tiny(), tiny()};
  std::vector<std::unique_ptr<train::SftTrainer>> ranks;
  for (int r = 0; r < 2; ++r) {
    o.rank = r;
    ranks.push_back(std::make_unique<train::SftTrainer>(models[r], ex, std::vector<data::Example>{}, o));
    ranks.back()->set_rank_sync(std::make_shared<FakeRankSync>(world, r));
  }
  for (int step = 0; step < 2; ++step) {
    auto want = big.step();
    train::StepStats got[2];
    std::thread t0([&] { got[0] = ranks[0]->step(); });
    std::thread t1([&] { got[1] = ranks[1]->step(); });
    t0.join();
    t1.join();
    BOOST_TEST(got[0].label_tokens + got[1].label_tokens == want.label_tokens);
    BOOST_TEST(got[0].label_tokens != got[1].label_tokens);  // per-rank normalisation would differ
    for (auto& g : got) {
      BOOST_TEST(g.global_label_tokens == want.label_tokens);
      BOOST_TEST(std::abs(g.loss - want.loss) < 1e-6,
                 "step " << step << ": " << g.loss << " vs " << want.loss);
      BOOST_TEST(std::abs(g.grad_norm - want.grad_norm) < 1e-5 * want.grad_norm,
                 g.grad_norm << " vs " << want.grad_norm);
    }
    BOOST_TEST(got[0].loss == got[1].loss);
  }
  // Both ranks hold identical weights, equal to the single-process run's within fp32 rounding.
  auto p0 = models[0]->lm->named_parameters(), p1 = models[1]->lm->named_parameters(),
       pb = mbig->lm->named_parameters();
  float same = 0, diff = 0;
  for (auto& kv : p0) {
    same = std::max(same, (kv.value() - p1[kv.key()]).abs().max().item<float>());
    diff = std::max(diff, (kv.value() - pb[kv.key()]).abs().max().item<float>());
  }
  BOOST_TEST(same == 0.0f);
  BOOST_TEST(diff < 1e-5f, "max parameter difference to the one-process run " << diff);
  // Per step: the label count, one sum per trainable parameter, the loss.
  BOOST_TEST(world.calls() == 2 * 2 * static_cast<int64_t>(2 + p0.size()));

  o.rank = 0;
  train::SftTrainer alone(tiny(), ex, {}, o);
  try {
    alone.step();
    BOOST_FAIL("world_size 2 without a RankSync must raise");
  } catch (const Error& e) {
    BOOST_TEST(
        std::string(e.what()).find("world_size is 2 but nothing connects the ranks") != std::string::npos,
        e.what());
  }
}
