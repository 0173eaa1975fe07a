// LoRA adapters on model::Linear, merge/unmerge, and PEFT-format save/load.
#include "train/lora.h"

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "io/safetensors.h"

namespace ft::train {

namespace {

constexpr const char* kAdapterName = "lora";
constexpr const char* kPeftPrefix = "base_model.model.";

bool ends_with_module(const std::string& key, const std::string& t) {
  return key == t || (key.size() > t.size() && key.compare(key.size() - t.size(), t.size(), t) == 0 &&
                      key[key.size() - t.size() - 1] == '.');
}

bool is_target(const std::string& key, const LoraConfig& c) {
  if (c.all_linear) return key != "lm_head";
  for (const auto& t : c.targets)
    if (ends_with_module(key, t)) return true;
  return false;
}

// Every model::Linear of the model with its HF module name.
std::vector<std::pair<std::string, model::LinearImpl*>> linears(model::Model& m) {
  std::vector<std::pair<std::string, model::LinearImpl*>> out;
  for (const auto& item : m.lm->named_modules()) {
    if (auto* lin = dynamic_cast<model::LinearImpl*>(item.value().get())) out.emplace_back(item.key(), lin);
  }
  return out;
}

}  // namespace

LoraAdapter::LoraAdapter(int64_t in, int64_t out, const LoraConfig& c, torch::Generator* gen)
    : r(c.r), alpha(c.alpha), dropout_p(c.dropout), rslora(c.rslora) {
  if (c.r < 1) throw Error("lora: r must be >= 1, got " + std::to_string(c.r));
  scale_ = c.rslora ? c.alpha / std::sqrt(static_cast<double>(c.r)) : c.alpha / static_cast<double>(c.r);
  // kaiming_uniform_(a = sqrt 5) on [r, in]: gain sqrt(2 / (1 + 5)), bound gain * sqrt(3 / in) = 1 / sqrt(in).
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  at::Tensor a = at::empty({c.r, in}, at::kFloat);
  if (gen)
    a.uniform_(-bound, bound, *gen);
  else
    a.uniform_(-bound, bound);
  lora_A = register_parameter("lora_A", a);
  lora_B = register_parameter("lora_B", at::zeros({out, c.r}, at::kFloat));
}

at::Tensor LoraAdapter::forward(const at::Tensor& x) {
  at::Tensor h = x;
  if (dropout_p > 0 && is_training() && at::GradMode::is_enabled()) h = at::dropout(h, dropout_p, true);
  return at::linear(at::linear(h.to(lora_A.scalar_type()), lora_A), lora_B).mul(scale_).to(x.scalar_type());
}

at::Tensor LoraAdapter::delta_weight() const { return at::matmul(lora_B, lora_A).mul(scale_); }

std::vector<LoraTarget> lora_targets(model::Model& m) {
  std::vector<LoraTarget> out;
  for (auto& [name, lin] : linears(m))
    for (auto& a : lin->adapters)
      if (a.first == kAdapterName)
        out.push_back({name, lin, std::dynamic_pointer_cast<LoraAdapter>(a.second)});
  return out;
}

std::vector<LoraTarget> apply_lora(model::Model& m, const LoraConfig& c) {
  if (!lora_targets(m).empty())
    throw Error("m:lora: this model already has LoRA adapters", "merge them (m:merge()) or load a fresh model");
  auto all = linears(m);
  at::Generator gen = at::detail::createCPUGenerator(c.seed);
  std::vector<LoraTarget> out;
  for (auto& [name, lin] : all) {
    if (!is_target(name, c)) continue;
    auto a = std::make_shared<LoraAdapter>(lin->in_features, lin->out_features, c, &gen);
    a->to(lin->weight.device());
    lin->add_adapter(kAdapterName, a);
    out.push_back({name, lin, a});
  }
  if (out.empty()) {
    std::set<std::string> kinds;
    for (auto& l : all) kinds.insert(l.first.substr(l.first.rfind('.') + 1));
    std::string list;
    for (auto& k : kinds) list += (list.empty() ? "" : ", ") + k;
    throw Error("m:lora: no linear module matches the targets", "the model's linear modules are: " + list);
  }
  // Freeze the base; keep adapters and modules_to_save trainable.
  std::set<std::string> save_hits;
  for (auto& p : m.lm->named_parameters()) {
    const std::string& key = p.key();
    bool train = key.find(".lora.lora_") != std::string::npos;
    for (const auto& s : c.modules_to_save) {
      std::string mod = key.substr(0, key.rfind('.'));
      if (ends_with_module(mod, s)) {
        train = true;
        save_hits.insert(s);
      }
    }
    p.value().set_requires_grad(train);
  }
  for (const auto& s : c.modules_to_save)
    if (!save_hits.count(s)) throw Error("m:lora: modules_to_save entry '" + s + "' matches no module");
  return out;
}

LoraConfig lora_config(model::Model& m) {
  auto t = lora_targets(m);
  if (t.empty()) throw Error("this model has no LoRA adapters", "call m:lora{...} or m:load_adapter(dir) first");
  LoraConfig c;
  c.r = t[0].adapter->r;
  c.alpha = t[0].adapter->alpha;
  c.dropout = t[0].adapter->dropout_p;
  c.rslora = t[0].adapter->rslora;
  std::set<std::string> kinds;
  for (auto& x : t) kinds.insert(x.module.substr(x.module.rfind('.') + 1));
  c.targets.assign(kinds.begin(), kinds.end());
  c.modules_to_save.clear();
  std::set<std::string> saved;
  for (auto& p : m.lm->named_parameters())
    if (p.value().requires_grad() && p.key().find(".lora.lora_") == std::string::npos) {
      std::string mod = p.key().substr(0, p.key().rfind('.'));
      saved.insert(mod.substr(mod.rfind('.') + 1));
    }
  c.modules_to_save.assign(saved.begin(), saved.end());
  return c;
}

void merge_lora(model::Model& m) {
  auto t = lora_targets(m);
  if (t.empty()) throw Error("m:merge: this model has no LoRA adapters to merge");
  torch::NoGradGuard ng;
  for (auto& x : t) {
    if (x.adapter->merged) continue;
    x.linear->weight.add_(x.adapter->delta_weight().to(x.linear->weight.scalar_type()));
    x.adapter->merged = true;
    x.adapter->enabled = false;
  }
}

void unmerge_lora(model::Model& m) {
  torch::NoGradGuard ng;
  for (auto& x : lora_targets(m)) {
    if (!x.adapter->merged) continue;
    x.linear->weight.sub_(x.adapter->delta_weight().to(x.linear->weight.scalar_type()));
    x.adapter->merged = false;
    x.adapter->enabled = true;
  }
}

void set_lora_enabled(model::Model& m, bool enabled) {
  for (auto& x : lora_targets(m))
    if (!x.adapter->merged) x.adapter->enabled = enabled;
}

std::vector<std::pair<std::string, at::Tensor>> trainable_parameters(model::Model& m) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (auto& p : m.lm->named_parameters())
    if (p.value().requires_grad()) out.emplace_back(p.key(), p.value());
  return out;
}

void save_adapter(model::Model& m, const std::string& dir) {
  LoraConfig c = lora_config(m);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (auto& x : lora_targets(m)) {
    tensors.emplace_back(kPeftPrefix + x.module + ".lora_A.weight", x.adapter->lora_A.detach().contiguous().cpu());
    tensors.emplace_back(kPeftPrefix + x.module + ".lora_B.weight", x.adapter->lora_B.detach().contiguous().cpu());
  }
  for (auto& p : m.lm->named_parameters())
    if (p.value().requires_grad() && p.key().find(".lora.lora_") == std::string::npos)
      tensors.emplace_back(kPeftPrefix + p.key(), p.value().detach().contiguous().cpu());
  nlohmann::ordered_json j;  // keys sorted, as PEFT's json.dumps(sort_keys=True)
  j["alpha_pattern"] = nlohmann::ordered_json::object();
  if (m.source_dir.empty())
    j["base_model_name_or_path"] = nullptr;
  else
    j["base_model_name_or_path"] = m.source_dir;
  j["bias"] = "none";
  j["fan_in_fan_out"] = false;
  j["inference_mode"] = true;
  j["init_lora_weights"] = true;
  j["layers_pattern"] = nullptr;
  j["layers_to_transform"] = nullptr;
  j["lora_alpha"] = c.alpha;
  j["lora_dropout"] = c.dropout;
  if (c.modules_to_save.empty())
    j["modules_to_save"] = nullptr;
  else
    j["modules_to_save"] = c.modules_to_save;
  j["peft_type"] = "LORA";
  j["r"] = c.r;
  j["rank_pattern"] = nlohmann::ordered_json::object();
  j["revision"] = nullptr;
  j["target_modules"] = c.targets;
  j["task_type"] = "CAUSAL_LM";
  j["use_dora"] = false;
  j["use_rslora"] = c.rslora;
  fs::make_dirs(dir);
  io::write_safetensors_file(dir + "/adapter_model.safetensors", tensors, {{"format", "pt"}});
  fs::write_file_atomic(dir + "/adapter_config.json", j.dump(2) + "\n");
}

void load_adapter(model::Model& m, const std::string& dir) {
  const std::string cfg_path = dir + "/adapter_config.json";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(fs::read_file(cfg_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(cfg_path + ": invalid JSON (" + e.what() + ")");
  }
  if (j.value("peft_type", std::string()) != "LORA")
    throw Error(cfg_path + ": peft_type must be \"LORA\", found " + j.value("peft_type", nlohmann::json()).dump());
  if (j.contains("use_dora") && j["use_dora"].is_boolean() && j["use_dora"].get<bool>())
    throw Error(cfg_path + ": DoRA adapters (use_dora = true) are not supported");
  if (j.contains("fan_in_fan_out") && j["fan_in_fan_out"].is_boolean() && j["fan_in_fan_out"].get<bool>())
    throw Error(cfg_path + ": fan_in_fan_out = true (GPT-2 Conv1D layout) is not supported");
  auto sd = io::load_safetensors_file(dir + "/adapter_model.safetensors");
  if (lora_targets(m).empty()) {
    LoraConfig c;
    c.r = j.value("r", int64_t{8});
    c.alpha = j.value("lora_alpha", 8.0);
    c.dropout = j.value("lora_dropout", 0.0);
    c.rslora = j.value("use_rslora", false);
    c.targets.clear();
    // Attach exactly where the file has tensors (covers list, regex and all-linear configs alike).
    for (auto& kv : sd) {
      const std::string& k = kv.first;
      auto pos = k.rfind(".lora_A.weight");
      if (pos != std::string::npos && k.compare(0, strlen(kPeftPrefix), kPeftPrefix) == 0)
        c.targets.push_back(k.substr(strlen(kPeftPrefix), pos - strlen(kPeftPrefix)));
    }
    if (c.targets.empty()) throw Error(dir + "/adapter_model.safetensors: no '*.lora_A.weight' tensor");
    if (j.contains("modules_to_save") && j["modules_to_save"].is_array())
      for (auto& s : j["modules_to_save"]) c.modules_to_save.push_back(s.get<std::string>());
    apply_lora(m, c);
  }
  std::map<std::string, at::Tensor> expected;
  for (auto& x : lora_targets(m)) {
    expected[kPeftPrefix + x.module + ".lora_A.weight"] = x.adapter->lora_A;
    expected[kPeftPrefix + x.module + ".lora_B.weight"] = x.adapter->lora_B;
  }
  for (auto& p : m.lm->named_parameters())
    if (p.value().requires_grad() && p.key().find(".lora.lora_") == std::string::npos)
      expected[kPeftPrefix + p.key()] = p.value();
  std::map<std::string, std::vector<int64_t>> shapes;
  for (auto& e : expected) shapes[e.first] = e.second.sizes().vec();
  io::check_state_dict(shapes, sd, dir + "/adapter_model.safetensors");
  torch::NoGradGuard ng;
  for (auto& e : expected) e.second.copy_(sd.at(e.first));
}

}  // namespace ft::train
