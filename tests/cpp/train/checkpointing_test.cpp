// Activation checkpointing per block: the same loss and gradients as a plain forward/backward (LoRA with
// dropout, where the recomputation must redraw the same masks; and full fine-tuning), the global RNG left
// where a plain run leaves it, and a lower peak of CPU memory, measured by a counting allocator installed
// for the test.
#include <boost/test/unit_test.hpp>

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <atomic>

#include "train/lora.h"
#include "train/trainer.h"

using namespace ft;

namespace {

std::shared_ptr<model::Model> tiny(int64_t layers = 3, int64_t hidden = 32) {
  model::NewModelOptions o;
  o.hidden = hidden;
  o.layers = layers;
  o.heads = 4;
  o.kv_heads = 2;
  o.intermediate = 2 * hidden;
  o.seed = 7;
  return model::Model::create(o);
}

// Loss of one batch and the gradients of every trainable parameter (by name).
std::pair<double, std::map<std::string, at::Tensor>> loss_and_grads(model::Model& m, const at::Tensor& ids) {
  m.lm->train();
  for (auto& p : m.lm->parameters()) p.mutable_grad() = at::Tensor();
  model::ForwardInput in;
  in.input_ids = ids;
  at::Tensor logits = m.forward(in);
  at::Tensor loss = at::cross_entropy_loss(logits.slice(1, 0, ids.size(1) - 1).reshape({-1, logits.size(-1)}),
                                           ids.slice(1, 1).reshape({-1}));
  loss.backward();
  std::map<std::string, at::Tensor> g;
  for (auto& p : m.lm->named_parameters())
    if (p.value().requires_grad() && p.value().grad().defined()) g[p.key()] = p.value().grad().clone();
  return {loss.item<double>(), g};
}

void compare(bool lora) {
  auto m = tiny();
  if (lora) {
    train::LoraConfig c;
    c.all_linear = true;
    c.r = 4;
    c.dropout = 0.2;
    train::apply_lora(*m, c);
    torch::NoGradGuard ng;  // B = 0 would make the A gradients zero: give B values
    for (auto& t : train::lora_targets(*m)) t.adapter->lora_B.normal_(0, 0.05);
  }
  at::Tensor ids = torch::randint(0, 259, {2, 24}, at::kLong);
  torch::manual_seed(123);
  auto [plain_loss, plain] = loss_and_grads(*m, ids);
  const float after_plain = torch::rand({1}).item<float>();
  m->lm->gradient_checkpointing = true;
  torch::manual_seed(123);
  auto [ckpt_loss, ckpt] = loss_and_grads(*m, ids);
  const float after_ckpt = torch::rand({1}).item<float>();
  m->lm->gradient_checkpointing = false;
  BOOST_TEST(ckpt_loss == plain_loss, "loss " << ckpt_loss << " vs " << plain_loss);
  BOOST_TEST(after_ckpt == after_plain);  // the recomputation leaves the global generator as it found it
  BOOST_TEST(ckpt.size() == plain.size());
  BOOST_TEST(!plain.empty());
  // Tolerance: gradients are recomputed with the same kernels; only the accumulation order of a parameter
  // used twice (the tied embedding) may differ. Relative to the largest gradient entry: 1e-6.
  for (auto& [name, g] : plain) {
    BOOST_REQUIRE_MESSAGE(ckpt.count(name), name << " got no gradient under checkpointing");
    const float scale = g.abs().max().item<float>();
    BOOST_TEST(scale > 0.0f, name);
    const float diff = (ckpt[name] - g).abs().max().item<float>();
    BOOST_TEST(diff <= 1e-6f * scale, name << ": max diff " << diff << " (max |g| " << scale << ")");
  }
}

// Counts live CPU bytes and their peak; installed over the default allocator for one measurement.
struct CountingAllocator final : public c10::Allocator {
  struct Block {
    void* ptr;
    size_t n;
  };
  static std::atomic<int64_t> live, peak;
  static void release(void* ctx) {
    auto* b = static_cast<Block*>(ctx);
    live -= static_cast<int64_t>(b->n);
    c10::free_cpu(b->ptr);
    delete b;
  }
  c10::DataPtr allocate(size_t n) const override {
    void* p = c10::alloc_cpu(n);
    int64_t now = live += static_cast<int64_t>(n);
    int64_t old = peak.load();
    while (now > old && !peak.compare_exchange_weak(old, now)) {
    }
    return {p, new Block{p, n}, &release, c10::Device(c10::DeviceType::CPU)};
  }
};
std::atomic<int64_t> CountingAllocator::live{0}, CountingAllocator::peak{0};

// Peak bytes above the live bytes at the start, over one forward + backward.
int64_t peak_bytes(model::Model& m, const at::Tensor& ids) {
  CountingAllocator::peak = CountingAllocator::live.load();
  const int64_t base = CountingAllocator::live.load();
  loss_and_grads(m, ids);
  return CountingAllocator::peak.load() - base;
}

}  // namespace

BOOST_AUTO_TEST_CASE(checkpointed_blocks_give_the_same_loss_and_gradients_with_lora_dropout) {
  compare(true);
}

BOOST_AUTO_TEST_CASE(checkpointed_blocks_give_the_same_loss_and_gradients_full_finetune) {
  compare(false);
}

BOOST_AUTO_TEST_CASE(checkpointing_lowers_peak_memory) {
  // 8 blocks, 512 tokens: attention scores alone are 2 x 4 heads x 512 x 512 floats = 8 MiB per block,
  // kept for every block without checkpointing, for one block at a time with it.
  auto m = tiny(8, 64);
  train::LoraConfig c;
  c.all_linear = true;
  train::apply_lora(*m, c);
  at::Tensor ids = torch::randint(0, 259, {2, 512}, at::kLong);
  static CountingAllocator counting;
  c10::Allocator* previous = c10::GetCPUAllocator();
  c10::SetCPUAllocator(&counting, 100);
  const int64_t plain = peak_bytes(*m, ids);
  m->lm->gradient_checkpointing = true;
  const int64_t ckpt = peak_bytes(*m, ids);
  m->lm->gradient_checkpointing = false;
  c10::SetCPUAllocator(previous, 100);
  BOOST_TEST_MESSAGE("peak above baseline: plain " << plain / 1048576.0 << " MiB, checkpointed "
                                                   << ckpt / 1048576.0 << " MiB");
  BOOST_TEST(plain > 0);
  // Measured: about 0.3 (a block's activations + the logits vs eight blocks' activations).
  BOOST_TEST(ckpt < plain / 2, "checkpointed " << ckpt << " bytes vs plain " << plain);
}
