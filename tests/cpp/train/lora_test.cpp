// host/train LoRA against PEFT: target matching (suffix list, full-match regex, exact names, layers /
// layers_pattern, exclude, rank/alpha patterns), bias modes (what trains, what is saved under which
// name), the adapter files checked byte-level against shared/spec/formats.md section 3, hand-written
// PEFT adapters (as PEFT >= 0.7 and < 0.7 name biases) loading to the logits the PEFT math gives, and
// freezing by name pattern.
#include <boost/test/unit_test.hpp>

#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "fixtures.h"
#include "io/safetensors.h"
#include "train/freeze.h"
#include "train/lora.h"

using namespace ft;

namespace {

// qwen2 (q/k/v biases), 3 layers, hidden 32, 4 heads / 2 kv heads of 8, intermediate 64.
std::shared_ptr<model::Model> tiny3(uint64_t seed = 5) {
  return ft::test::tiny_lm(seed, 0.2, 3);
}

at::Tensor logits(model::Model& m) {
  torch::NoGradGuard ng;
  model::ForwardInput in;
  in.input_ids = torch::tensor({{256, 72, 101, 108, 108, 111, 44, 32}}, at::kLong);
  return m.forward(in);
}

at::Tensor param(model::Model& m, const std::string& name) {
  const auto* p = m.lm->named_parameters().find(name);
  if (!p) throw std::runtime_error("no parameter " + name);
  return *p;
}

std::string tmpdir(const std::string& name) {
  std::string d = "/tmp/ft_lora_test_" + std::to_string(::getpid()) + "_" + name;
  fs::remove_all(d);
  fs::make_dirs(d);
  return d;
}

std::vector<std::string> modules(const std::vector<train::LoraTarget>& t) {
  std::vector<std::string> out;
  for (auto& x : t) out.push_back(x.module);
  return out;
}

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// A safetensors file written by hand from the format spec (not by fthost's writer): 8-byte LE header
// length, the JSON header (no padding, tensors in the given order), then raw little-endian F32 data.
void write_st_by_hand(const std::string& file, const std::vector<std::pair<std::string, at::Tensor>>& ts) {
  nlohmann::ordered_json h;
  h["__metadata__"] = {{"format", "pt"}};
  std::string data;
  for (const auto& [name, t] : ts) {
    at::Tensor c = t.to(at::kFloat).contiguous();
    const size_t n = static_cast<size_t>(c.numel()) * 4;
    h[name] = {
        {"dtype", "F32"}, {"shape", c.sizes().vec()}, {"data_offsets", {data.size(), data.size() + n}}};
    data.append(static_cast<const char*>(c.data_ptr()), n);
  }
  const std::string hs = h.dump();
  uint64_t len = hs.size();
  std::ofstream f(file, std::ios::binary);
  for (int i = 0; i < 8; ++i) f.put(static_cast<char>((len >> (8 * i)) & 0xff));
  f << hs << data;
}

// The JSON header of a safetensors file, read straight from its bytes.
nlohmann::json raw_header(const std::string& file) {
  std::string bytes = fs::read_file(file);
  uint64_t len = 0;
  for (int i = 0; i < 8; ++i) len |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  return nlohmann::json::parse(bytes.substr(8, len));
}

// The logits PEFT's math gives: W += s * B A on a fresh copy of the base model, biases replaced.
at::Tensor peft_reference_logits(const std::map<std::string, std::pair<at::Tensor, at::Tensor>>& ab,
                                 const std::map<std::string, double>& scale,
                                 const std::map<std::string, at::Tensor>& biases) {
  auto ref = tiny3();
  torch::NoGradGuard ng;
  for (const auto& [mod, t] : ab)
    param(*ref, mod + ".weight").add_(at::matmul(t.second, t.first) * scale.at(mod));
  for (const auto& [name, b] : biases) param(*ref, name).copy_(b);
  return logits(*ref);
}

}  // namespace

BOOST_AUTO_TEST_CASE(targets_follow_peft_matching) {
  auto pick = [](const train::LoraConfig& c) { return modules(train::apply_lora(*tiny3(), c)); };
  train::LoraConfig c;
  // A single string is a regex that must match the whole module name.
  c.target_regex = R"(model\.layers\.[02]\.self_attn\.(q|v)_proj)";
  BOOST_TEST(pick(c) == (std::vector<std::string>{
                            "model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                            "model.layers.2.self_attn.q_proj", "model.layers.2.self_attn.v_proj"}),
             boost::test_tools::per_element());
  c.target_regex = "q_proj";  // no full match anywhere: an error that says how regexes match
  std::string e = error_of([&] { pick(c); });
  BOOST_TEST(has(e, "no linear module matches the targets"), e);
  BOOST_TEST(has(e, "regex that must match the whole name"), e);
  c.target_regex = "model.layers.(0";
  BOOST_TEST(has(error_of([&] { pick(c); }), "is not a valid regex"));
  // A list matches by suffix after a dot; layers_to_transform keeps those layer indices.
  c = {};
  c.targets = {"q_proj", "mlp.up_proj"};
  c.layers = {1};
  BOOST_TEST(
      pick(c) == (std::vector<std::string>{"model.layers.1.self_attn.q_proj", "model.layers.1.mlp.up_proj"}),
      boost::test_tools::per_element());
  c.layers = {0, 2};
  c.layers_pattern = {"layers"};
  BOOST_TEST(pick(c).size() == 4u);
  c.layers_pattern = {"blocks"};  // no "blocks.<n>." in any name: nothing matches
  BOOST_TEST(has(error_of([&] { pick(c); }), "check layers / layers_pattern"));
  // An entry equal to a whole name is taken as is (PEFT skips the layer filter for it).
  c = {};
  c.targets = {"model.layers.0.mlp.down_proj", "v_proj"};
  c.layers = {2};
  BOOST_TEST(pick(c) == (std::vector<std::string>{"model.layers.0.mlp.down_proj",
                                                  "model.layers.2.self_attn.v_proj"}),
             boost::test_tools::per_element());
  // all-linear with a layer filter and an exclude regex.
  c = {};
  c.all_linear = true;
  c.layers = {1, 2};
  c.exclude_regex = R"(.*\.mlp\..*)";
  BOOST_TEST(pick(c).size() == 8u);  // q k v o in layers 1 and 2
  c.exclude_regex.clear();
  c.exclude = {"k_proj", "o_proj"};
  BOOST_TEST(pick(c).size() == 10u);  // q v gate up down in layers 1 and 2
  // PEFT's config checks.
  c = {};
  c.target_regex = ".*q_proj";
  c.layers = {0};
  BOOST_TEST(has(error_of([&] { pick(c); }), "cannot be used with a regex target"));
  c = {};
  c.layers_pattern = {"layers"};
  BOOST_TEST(has(error_of([&] { pick(c); }), "layers_pattern needs layers"));
  c = {};
  c.bias = "some";
  BOOST_TEST(has(error_of([&] { pick(c); }), "bias must be \"none\", \"all\" or \"lora_only\""));
  c = {};
  c.targets = {"embed_tokens"};
  e = error_of([&] { pick(c); });
  BOOST_TEST(has(e, "target 'model.embed_tokens' is not a linear module"), e);
  BOOST_TEST(has(e, "modules_to_save = { \"embed_tokens\" }"), e);
  // rank_pattern / alpha_pattern: the first pattern matching the end of the name wins.
  c = {};
  c.r = 8;
  c.alpha = 16;
  c.targets = {"q_proj", "v_proj"};
  c.rank_pattern = {{"v_proj", 2}, {"layers\\.1\\.self_attn\\.q_proj", 4}};
  c.alpha_pattern = {{"layers\\.1\\.self_attn\\.q_proj", 32}};
  auto t = train::apply_lora(*tiny3(), c);
  std::map<std::string, std::pair<int64_t, double>> rs;
  for (auto& x : t) rs[x.module] = {x.adapter->r, x.adapter->scale()};
  BOOST_TEST(rs.at("model.layers.0.self_attn.q_proj").first == 8);
  BOOST_TEST(rs.at("model.layers.0.self_attn.q_proj").second == 2.0);
  BOOST_TEST(rs.at("model.layers.0.self_attn.v_proj").first == 2);
  BOOST_TEST(rs.at("model.layers.0.self_attn.v_proj").second == 8.0);
  BOOST_TEST(rs.at("model.layers.1.self_attn.q_proj").first == 4);
  BOOST_TEST(rs.at("model.layers.1.self_attn.q_proj").second == 8.0);
  BOOST_TEST((t[1].adapter->lora_A.sizes() == at::IntArrayRef({2, 32})));
}

BOOST_AUTO_TEST_CASE(bias_modes_choose_trainable_and_saved_biases) {
  auto trainable_biases = [](model::Model& m) {
    std::set<std::string> out;
    for (auto& p : m.lm->named_parameters())
      if (p.value().requires_grad() && has(p.key(), ".bias")) out.insert(p.key());
    return out;
  };
  auto saved_biases = [](const std::string& dir) {
    std::set<std::string> out;
    for (auto& [k, v] : io::load_safetensors(dir + "/adapter_model.safetensors"))
      if (has(k, "bias")) out.insert(k);
    return out;
  };
  const std::string P = "base_model.model.model.layers.";
  train::LoraConfig c;
  c.targets = {"q_proj", "o_proj"};
  for (std::string mode : {"none", "lora_only", "all"}) {
    auto m = tiny3();
    c.bias = mode;
    train::apply_lora(*m, c);
    std::string dir = tmpdir("bias_" + mode);
    train::save_adapter(*m, dir);
    auto cfg = nlohmann::json::parse(fs::read_file(dir + "/adapter_config.json"));
    BOOST_TEST((cfg["bias"] == mode));
    if (mode == "none") {
      BOOST_TEST(trainable_biases(*m).empty());
      BOOST_TEST(saved_biases(dir).empty());
    } else if (mode == "lora_only") {  // q_proj has a bias, o_proj none; k/v are not adapted
      BOOST_TEST(trainable_biases(*m) == (std::set<std::string>{"model.layers.0.self_attn.q_proj.bias",
                                                                "model.layers.1.self_attn.q_proj.bias",
                                                                "model.layers.2.self_attn.q_proj.bias"}));
      BOOST_TEST(saved_biases(dir) == (std::set<std::string>{P + "0.self_attn.q_proj.base_layer.bias",
                                                             P + "1.self_attn.q_proj.base_layer.bias",
                                                             P + "2.self_attn.q_proj.base_layer.bias"}));
    } else {  // every bias; adapted modules' under base_layer (PEFT >= 0.7), the others plain
      BOOST_TEST(trainable_biases(*m).size() == 9u);
      auto s = saved_biases(dir);
      BOOST_TEST(s.size() == 9u);
      BOOST_TEST(s.count(P + "1.self_attn.q_proj.base_layer.bias") == 1u);
      BOOST_TEST(s.count(P + "1.self_attn.k_proj.bias") == 1u);
      BOOST_TEST(s.count(P + "2.self_attn.v_proj.bias") == 1u);
      // Trained biases round-trip: a fresh base model with the adapter gives the same logits.
      {
        torch::NoGradGuard ng;
        for (auto& x : train::lora_targets(*m)) x.adapter->lora_B.normal_(0, 0.2);
        param(*m, "model.layers.1.self_attn.q_proj.bias").add_(0.5);
        param(*m, "model.layers.2.self_attn.k_proj.bias").add_(-0.5);
      }
      train::save_adapter(*m, dir);
      auto m2 = tiny3();
      at::Tensor base = logits(*m2);
      train::load_adapter(*m2, dir);
      BOOST_TEST(at::allclose(logits(*m2), logits(*m), 1e-5, 1e-6));
      BOOST_TEST(!at::allclose(logits(*m2), base, 1e-3, 1e-3));
      BOOST_TEST(trainable_biases(*m2).size() == 9u);
    }
  }
}

BOOST_AUTO_TEST_CASE(adapter_files_match_the_peft_spec) {
  auto m = tiny3();
  m->source_dir = "/models/tiny-qwen2";
  train::LoraConfig c;
  c.r = 4;
  c.alpha = 8;
  c.dropout = 0.05;
  c.targets = {"v_proj", "q_proj", "mlp.down_proj"};
  c.layers = {0, 2};
  c.layers_pattern = {"layers"};
  c.modules_to_save = {"embed_tokens"};
  c.rslora = true;
  train::apply_lora(*m, c);
  std::string dir = tmpdir("spec");
  train::save_adapter(*m, dir);
  // adapter_model.safetensors: PEFT names (adapter name removed), [r, in] / [out, r], F32, format pt.
  nlohmann::json h = raw_header(dir + "/adapter_model.safetensors");
  BOOST_TEST((h["__metadata__"] == nlohmann::json{{"format", "pt"}}));
  std::map<std::string, std::vector<int64_t>> want;
  for (int l : {0, 2}) {
    const std::string p = "base_model.model.model.layers." + std::to_string(l);
    want[p + ".self_attn.q_proj.lora_A.weight"] = {4, 32};
    want[p + ".self_attn.q_proj.lora_B.weight"] = {32, 4};
    want[p + ".self_attn.v_proj.lora_A.weight"] = {4, 32};
    want[p + ".self_attn.v_proj.lora_B.weight"] = {16, 4};
    want[p + ".mlp.down_proj.lora_A.weight"] = {4, 64};
    want[p + ".mlp.down_proj.lora_B.weight"] = {32, 4};
  }
  want["base_model.model.model.embed_tokens.weight"] = {259, 32};
  BOOST_TEST(h.size() == want.size() + 1);
  for (auto& [name, shape] : want) {
    BOOST_TEST_CONTEXT(name) {
      BOOST_REQUIRE(h.contains(name));
      BOOST_TEST((h[name]["dtype"] == "F32"));
      BOOST_TEST((h[name]["shape"].get<std::vector<int64_t>>() == shape));
    }
  }
  // adapter_config.json: PEFT's keys, sorted, indent 2, with these values.
  const std::string text = fs::read_file(dir + "/adapter_config.json");
  const auto in_file_order = nlohmann::ordered_json::parse(text);
  std::vector<std::string> keys;
  for (auto it = in_file_order.begin(); it != in_file_order.end(); ++it) keys.push_back(it.key());
  const auto cfg = nlohmann::json::parse(text);
  const std::vector<std::string> want_keys = {"alpha_pattern",
                                              "base_model_name_or_path",
                                              "bias",
                                              "exclude_modules",
                                              "fan_in_fan_out",
                                              "inference_mode",
                                              "init_lora_weights",
                                              "layers_pattern",
                                              "layers_to_transform",
                                              "lora_alpha",
                                              "lora_dropout",
                                              "modules_to_save",
                                              "peft_type",
                                              "r",
                                              "rank_pattern",
                                              "revision",
                                              "target_modules",
                                              "task_type",
                                              "use_dora",
                                              "use_rslora"};
  BOOST_TEST(keys == want_keys, boost::test_tools::per_element());
  const std::string head = "{\n  \"alpha_pattern\": {},\n  \"base_model_name_or_path\": ";
  BOOST_TEST(text.compare(0, head.size(), head) == 0, text.substr(0, 60));
  BOOST_TEST((cfg["peft_type"] == "LORA"));
  BOOST_TEST((cfg["task_type"] == "CAUSAL_LM"));
  BOOST_TEST((cfg["base_model_name_or_path"] == "/models/tiny-qwen2"));
  BOOST_TEST((cfg["r"] == 4));
  BOOST_TEST((cfg["lora_alpha"] == 8.0));
  BOOST_TEST((cfg["lora_dropout"] == 0.05));
  BOOST_TEST((cfg["target_modules"] == nlohmann::json({"mlp.down_proj", "q_proj", "v_proj"})));
  BOOST_TEST((cfg["layers_to_transform"] == nlohmann::json({0, 2})));
  BOOST_TEST((cfg["layers_pattern"] == "layers"));
  BOOST_TEST((cfg["modules_to_save"] == nlohmann::json({"embed_tokens"})));
  BOOST_TEST((cfg["bias"] == "none"));
  BOOST_TEST((cfg["use_rslora"] == true));
  BOOST_TEST((cfg["use_dora"] == false));
  BOOST_TEST((cfg["fan_in_fan_out"] == false));
  BOOST_TEST((cfg["inference_mode"] == true));
  BOOST_TEST((cfg["init_lora_weights"] == true));
  BOOST_TEST(cfg["exclude_modules"].is_null());
  BOOST_TEST(cfg["revision"].is_null());
  BOOST_TEST((cfg["rank_pattern"] == nlohmann::json::object()));
  // A regex target is written as the string; all-linear expanded to the suffixes (as PEFT does).
  auto m2 = tiny3();
  c = {};
  c.target_regex = R"(.*\.(q|k)_proj)";
  train::apply_lora(*m2, c);
  BOOST_TEST((train::peft_config_json(*m2)["target_modules"] == R"(.*\.(q|k)_proj)"));
  auto m3 = tiny3();
  c = {};
  c.all_linear = true;
  train::apply_lora(*m3, c);
  BOOST_TEST((train::peft_config_json(*m3)["target_modules"] ==
              nlohmann::json({"down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"})));
  // The file round-trips: same modules, same config.
  auto m4 = tiny3();
  m4->source_dir = "/models/tiny-qwen2";
  train::load_adapter(*m4, dir);
  BOOST_TEST(train::lora_targets(*m4).size() == 6u);
  BOOST_TEST((train::peft_config_json(*m4) == nlohmann::json::parse(text)));
}

// An adapter written by hand the way PEFT >= 0.7 writes one: regex target_modules, rslora, rank and
// alpha patterns, bias = "all" (wrapped modules' biases under base_layer), keys fthost does not know.
BOOST_AUTO_TEST_CASE(hand_written_peft_adapter_gives_peft_logits) {
  const std::string dir = tmpdir("peft_regex");
  fs::write_file_atomic(dir + "/adapter_config.json", R"json({
  "alpha_pattern": {"down_proj": 12},
  "auto_mapping": null,
  "base_model_name_or_path": "Qwen/Qwen2.5-0.5B",
  "bias": "all",
  "corda_config": null,
  "eva_config": null,
  "exclude_modules": null,
  "fan_in_fan_out": false,
  "inference_mode": true,
  "init_lora_weights": true,
  "layer_replication": null,
  "layers_pattern": null,
  "layers_to_transform": null,
  "loftq_config": {},
  "lora_alpha": 16,
  "lora_bias": false,
  "lora_dropout": 0.05,
  "megatron_config": null,
  "megatron_core": "megatron.core",
  "modules_to_save": null,
  "peft_type": "LORA",
  "peft_version": "0.15.2",
  "r": 4,
  "rank_pattern": {"down_proj": 2},
  "revision": null,
  "target_modules": "model\\.layers\\.[02]\\.(self_attn\\.(q|v)_proj|mlp\\.down_proj)",
  "target_parameters": null,
  "task_type": "CAUSAL_LM",
  "trainable_token_indices": null,
  "use_dora": false,
  "use_qalora": false,
  "use_rslora": true
}
)json");
  at::manual_seed(7);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  std::map<std::string, std::pair<at::Tensor, at::Tensor>> ab;
  std::map<std::string, double> scale;
  std::map<std::string, at::Tensor> biases;
  for (int l : {0, 2})
    for (std::string mod : {"self_attn.q_proj", "self_attn.v_proj", "mlp.down_proj"}) {
      const std::string name = "model.layers." + std::to_string(l) + "." + mod;
      const bool down = mod == "mlp.down_proj";
      const int64_t r = down ? 2 : 4, in = down ? 64 : 32, out = mod == "self_attn.v_proj" ? 16 : 32;
      at::Tensor a = at::randn({r, in}) * 0.3, b = at::randn({out, r}) * 0.3;
      ab[name] = {a, b};
      scale[name] = (down ? 12.0 : 16.0) / std::sqrt(static_cast<double>(r));  // rslora
      tensors.emplace_back("base_model.model." + name + ".lora_B.weight",
                           b);  // any order: PEFT's isn't sorted
      tensors.emplace_back("base_model.model." + name + ".lora_A.weight", a);
    }
  for (int l = 0; l < 3; ++l)
    for (std::string p : {"q", "k", "v"}) {
      const std::string name = "model.layers." + std::to_string(l) + ".self_attn." + p + "_proj";
      at::Tensor b = at::randn({p == "q" ? 32 : 16}) * 0.5;
      biases[name + ".bias"] = b;
      tensors.emplace_back("base_model.model." + name + (ab.count(name) ? ".base_layer.bias" : ".bias"), b);
    }
  write_st_by_hand(dir + "/adapter_model.safetensors", tensors);

  auto m = tiny3();
  train::load_adapter(*m, dir);
  BOOST_TEST(train::lora_targets(*m).size() == 6u);
  const at::Tensor got = logits(*m), want = peft_reference_logits(ab, scale, biases);
  BOOST_TEST((got - want).abs().max().item<float>() < 1e-4f);
  BOOST_TEST((want - logits(*tiny3())).abs().max().item<float>() > 0.1f);  // the adapter matters
  // fthost's own matching of this config selects the modules PEFT wrote tensors for.
  train::LoraConfig c = train::lora_config(*m);
  c.exact_modules.clear();
  std::set<std::string> mine, theirs;
  for (auto& x : train::apply_lora(*tiny3(), c)) mine.insert(x.module);
  for (auto& kv : ab) theirs.insert(kv.first);
  BOOST_TEST(mine == theirs);
  // Saved again, the config keeps PEFT's values (regex string, patterns, bias).
  auto j = train::peft_config_json(*m);
  BOOST_TEST((j["target_modules"] == "model\\.layers\\.[02]\\.(self_attn\\.(q|v)_proj|mlp\\.down_proj)"));
  BOOST_TEST((j["rank_pattern"] == nlohmann::json{{"down_proj", 2}}));
  BOOST_TEST((j["alpha_pattern"] == nlohmann::json{{"down_proj", 12.0}}));
  BOOST_TEST((j["bias"] == "all"));
  BOOST_TEST((j["use_rslora"] == true));
}

// Older PEFT (< 0.7) named an adapted module's bias "<module>.bias"; list targets with
// layers_to_transform as a bare integer and layers_pattern as a string.
BOOST_AUTO_TEST_CASE(hand_written_old_peft_adapter_with_layers_loads) {
  const std::string dir = tmpdir("peft_layers");
  fs::write_file_atomic(dir + "/adapter_config.json",
                        R"({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 2, "lora_alpha": 4,
                            "target_modules": ["q_proj", "up_proj"], "layers_to_transform": 1,
                            "layers_pattern": "layers", "bias": "lora_only", "modules_to_save": ["lm_head"]})");
  at::manual_seed(9);
  std::map<std::string, std::pair<at::Tensor, at::Tensor>> ab;
  ab["model.layers.1.self_attn.q_proj"] = {at::randn({2, 32}) * 0.3, at::randn({32, 2}) * 0.3};
  ab["model.layers.1.mlp.up_proj"] = {at::randn({2, 32}) * 0.3, at::randn({64, 2}) * 0.3};
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  std::map<std::string, double> scale;
  for (auto& [name, t] : ab) {
    tensors.emplace_back("base_model.model." + name + ".lora_A.weight", t.first);
    tensors.emplace_back("base_model.model." + name + ".lora_B.weight", t.second);
    scale[name] = 4.0 / 2.0;
  }
  std::map<std::string, at::Tensor> biases = {{"model.layers.1.self_attn.q_proj.bias", at::randn({32})}};
  tensors.emplace_back("base_model.model.model.layers.1.self_attn.q_proj.bias", biases.begin()->second);
  // tiny3 ties embeddings (no lm_head module): modules_to_save must then name a module that exists.
  std::string e = error_of([&] {
    write_st_by_hand(dir + "/adapter_model.safetensors", tensors);
    train::load_adapter(*tiny3(), dir);
  });
  BOOST_TEST(has(e, "modules_to_save entry 'lm_head' matches no module"), e);
  fs::write_file_atomic(dir + "/adapter_config.json",
                        R"({"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": 2, "lora_alpha": 4,
                            "target_modules": ["q_proj", "up_proj"], "layers_to_transform": 1,
                            "layers_pattern": "layers", "bias": "lora_only", "modules_to_save": null})");
  auto m = tiny3();
  train::load_adapter(*m, dir);
  BOOST_TEST((logits(*m) - peft_reference_logits(ab, scale, biases)).abs().max().item<float>() < 1e-4f);
  BOOST_TEST(param(*m, "model.layers.1.self_attn.q_proj.bias").requires_grad());
  BOOST_TEST(!param(*m, "model.layers.1.self_attn.k_proj.bias").requires_grad());
  train::LoraConfig c = train::lora_config(*m);
  BOOST_TEST((c.layers == std::vector<int64_t>{1}));
  c.exact_modules.clear();
  BOOST_TEST(train::apply_lora(*tiny3(), c).size() == 2u);
  // A bias the model lacks is named.
  tensors.emplace_back("base_model.model.model.layers.1.mlp.up_proj.bias", at::zeros({64}));
  write_st_by_hand(dir + "/adapter_model.safetensors", tensors);
  e = error_of([&] { train::load_adapter(*tiny3(), dir); });
  BOOST_TEST(has(e, "tensor 'base_model.model.model.layers.1.mlp.up_proj.bias' names no bias of this model"),
             e);
  // Config errors name the file.
  fs::write_file_atomic(
      dir + "/adapter_config.json",
      R"({"peft_type": "LORA", "r": 2, "target_modules": ".*q_proj", "layers_to_transform": [1]})");
  e = error_of([&] { train::load_adapter(*tiny3(), dir); });
  BOOST_TEST(has(e, dir + "/adapter_config.json: m:lora: layers (layers_to_transform) cannot be used"), e);
}

BOOST_AUTO_TEST_CASE(freeze_by_dotted_name_pattern) {
  BOOST_TEST(train::param_pattern_match("model.layers.1.mlp.up_proj.weight", "layers.1"));
  BOOST_TEST(!train::param_pattern_match("model.layers.10.mlp.up_proj.weight", "layers.1"));
  BOOST_TEST(train::param_pattern_match("model.norm.weight", "norm"));
  BOOST_TEST(!train::param_pattern_match("model.layers.0.input_layernorm.weight", "norm"));
  BOOST_TEST(train::param_pattern_match("model.layers.0.mlp.down_proj.weight", "mlp.down_proj"));
  BOOST_TEST(!train::param_pattern_match("model.layers.0.mlp.down_proj.weight", "mlp.up_proj"));
  BOOST_TEST(!train::param_pattern_match("model.layers.0.mlp.down_proj.weight", ""));
  auto m = tiny3();
  int64_t n = train::freeze_except(*m, {"layers.2", "norm"});
  int64_t want = 32;  // model.norm
  for (auto& p : m->lm->named_parameters()) {
    const bool train = has(p.key(), "layers.2.") || p.key() == "model.norm.weight";
    BOOST_TEST(p.value().requires_grad() == train, p.key());
    if (has(p.key(), "layers.2.")) want += p.value().numel();
  }
  BOOST_TEST(n == want);
  BOOST_TEST(train::unfreeze(*m, {"embed_tokens"}) == want + 259 * 32);
  BOOST_TEST(!param(*m, "model.layers.0.mlp.up_proj.weight").requires_grad());
  BOOST_TEST(train::unfreeze(*m, {}) == m->num_params());
  std::string e = error_of([&] { train::freeze_except(*m, {"layers.7"}); });
  BOOST_TEST(has(e, "m:freeze: pattern 'layers.7' matches no parameter"), e);
  BOOST_TEST(has(e, "model.embed_tokens.weight"), e);
  // Adapters keep their state; freezing without exceptions leaves only them.
  auto m2 = tiny3();
  auto t = train::apply_lora(*m2, {});
  train::unfreeze(*m2, {"layers.0.mlp"});
  BOOST_TEST(param(*m2, "model.layers.0.mlp.gate_proj.weight").requires_grad());
  const int64_t adapters = train::freeze_except(*m2, {});
  int64_t lora_numel = 0;
  for (auto& x : t) lora_numel += x.adapter->lora_A.numel() + x.adapter->lora_B.numel();
  BOOST_TEST(adapters == lora_numel);
}
