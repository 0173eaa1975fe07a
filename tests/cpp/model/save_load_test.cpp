// Round trips through the HF folder layout: ft.new -> save -> load gives identical logits, single
// file and sharded (index + shards), with tokenizer and dtype preserved; broken folders give errors.
#include <boost/test/unit_test.hpp>

#include <filesystem>

#include "core/error.h"
#include "core/fs.h"
#include "model/model.h"

using namespace ft::model;
namespace stdfs = std::filesystem;

namespace {
std::string temp_dir(const std::string& name) {
  auto d = stdfs::temp_directory_path() / ("ft_model_test_" + std::to_string(::getpid()) + "_" + name);
  stdfs::remove_all(d);
  return d.string();
}
at::Tensor logits_of(Model& m) {
  ForwardInput in;
  in.input_ids = at::tensor(std::vector<int64_t>{256, 3, 1, 4, 1, 5, 9, 2, 6}, at::kLong).view({1, -1});
  torch::NoGradGuard ng;
  return m.forward(in);
}
}  // namespace

BOOST_AUTO_TEST_CASE(save_load_identical_logits) {
  for (bool tie : {true, false}) {
    NewModelOptions o;
    o.arch = tie ? "qwen2" : "llama";
    o.tie = tie;
    o.kv_heads = 2;
    o.seed = 3;
    auto m = Model::create(o);
    std::string dir = temp_dir(tie ? "tied" : "untied");
    m->save(dir);
    BOOST_TEST(stdfs::exists(dir + "/model.safetensors"));
    BOOST_TEST(stdfs::exists(dir + "/config.json"));
    auto back = Model::load(dir, std::nullopt, at::kCPU);
    BOOST_TEST(back->config().arch == o.arch);
    BOOST_TEST(back->config().tie_word_embeddings == tie);
    BOOST_REQUIRE(back->tokenizer);
    BOOST_TEST(back->tokenizer->kind() == "bytes");
    BOOST_TEST(at::equal(logits_of(*m), logits_of(*back)));
    stdfs::remove_all(dir);
  }
}

BOOST_AUTO_TEST_CASE(sharded_save_loads) {
  NewModelOptions o;
  o.arch = "llama";
  o.tie = false;
  o.seed = 8;
  auto m = Model::create(o);
  std::string dir = temp_dir("sharded");
  m->save(dir, 40000);  // ~ 40 kB shards for a ~ 0.5 MB model
  BOOST_TEST(stdfs::exists(dir + "/model.safetensors.index.json"));
  BOOST_TEST(!stdfs::exists(dir + "/model.safetensors"));
  int shards = 0;
  for (auto& e : stdfs::directory_iterator(dir))
    if (e.path().filename().string().rfind("model-0", 0) == 0) ++shards;
  BOOST_TEST(shards > 2);
  auto back = Model::load(dir, std::nullopt, at::kCPU);
  BOOST_TEST(at::equal(logits_of(*m), logits_of(*back)));
  // Loaded as bf16 on request: same config, parameters in bf16, logits close.
  auto half = Model::load(dir, at::kBFloat16, at::kCPU);
  BOOST_TEST(half->dtype() == at::kBFloat16);
  BOOST_TEST((logits_of(*half).to(at::kFloat) - logits_of(*m)).abs().max().item<float>() < 0.1f);
  stdfs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(missing_tensor_is_named) {
  NewModelOptions o;
  o.seed = 1;
  auto m = Model::create(o);
  auto sd = m->state_dict();
  std::map<std::string, at::Tensor> partial;
  for (auto& [n, t] : sd)
    if (n != "model.layers.1.mlp.up_proj.weight") partial.emplace(n, t);
  BOOST_CHECK_EXCEPTION(
      Model::from_state_dict(m->config(), partial, nullptr, "dir/x"), ft::Error, [](const ft::Error& e) {
        return std::string(e.what()).find("model.layers.1.mlp.up_proj.weight") != std::string::npos;
      });
  BOOST_CHECK_EXCEPTION(
      Model::load(temp_dir("nothing"), std::nullopt, at::kCPU), ft::Error,
      [](const ft::Error& e) { return std::string(e.what()).find("no config.json") != std::string::npos; });
}
