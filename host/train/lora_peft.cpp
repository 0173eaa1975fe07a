// PEFT's adapter files for LoRA: adapter_config.json (keys sorted, the LoraConfig fields PEFT reads) and
// adapter_model.safetensors ("base_model.model."-prefixed names, adapter name removed), written by
// save_adapter and read by load_adapter, whether fthost or PEFT made them.
#include <cstring>
#include <map>
#include <set>
#include <type_traits>

#include "core/error.h"
#include "core/fs.h"
#include "io/safetensors.h"
#include "train/lora.h"

namespace ft::train {

namespace {

constexpr const char* kPeftPrefix = "base_model.model.";

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A JSON string or list of strings (PEFT accepts both for layers_pattern and exclude_modules).
std::vector<std::string> string_list(const nlohmann::json& v, const std::string& where, const char* key) {
  std::vector<std::string> out;
  if (v.is_null()) return out;
  if (v.is_string()) return {v.get<std::string>()};
  if (v.is_array()) {
    for (const auto& e : v) {
      if (!e.is_string()) throw Error(where + ": '" + key + "' must list strings, found " + e.dump());
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  throw Error(where + ": '" + key + "' must be a string or a list of strings, found " + v.dump());
}

nlohmann::json one_or_list(const std::vector<std::string>& v) {
  if (v.empty()) return nullptr;
  if (v.size() == 1) return v[0];
  return v;
}

// Base parameter names (HF) of the model, adapters excluded.
bool is_adapter_param(const std::string& key) {
  return key.find(".lora.lora_") != std::string::npos;
}

struct AdapterTensors {
  std::map<std::string, at::Tensor> required;  // PEFT name -> live tensor (A, B, modules_to_save)
  std::map<std::string, at::Tensor> biases;    // PEFT name -> live bias the bias mode saves
};

// The tensors an adapter file holds for the attached adapters, under PEFT's names.
AdapterTensors adapter_tensors(model::Model& m, const LoraConfig& c) {
  AdapterTensors out;
  std::set<std::string> adapted;
  for (auto& x : lora_targets(m)) {
    adapted.insert(x.module);
    out.required[kPeftPrefix + x.module + ".lora_A.weight"] = x.adapter->lora_A;
    out.required[kPeftPrefix + x.module + ".lora_B.weight"] = x.adapter->lora_B;
  }
  for (auto& p : m.lm->named_parameters()) {
    const std::string& key = p.key();
    if (is_adapter_param(key)) continue;
    const std::string mod = key.substr(0, key.rfind('.'));
    bool save = false;
    for (const auto& s : c.modules_to_save) save = save || module_suffix_match(mod, s);
    if (save) {
      out.required[kPeftPrefix + key] = p.value();
    } else if (ends_with(key, ".bias") &&
               (c.bias == "all" || (c.bias == "lora_only" && adapted.count(mod)))) {
      // PEFT >= 0.7 wraps an adapted Linear as <module>.base_layer, so its bias is saved under that name.
      out.biases[kPeftPrefix + (adapted.count(mod) ? mod + ".base_layer.bias" : key)] = p.value();
    }
  }
  return out;
}

// {"<regex>": value} in file order; T int64_t (rank_pattern) or double (alpha_pattern).
template <class T>
std::vector<std::pair<std::string, T>> pattern_from_json(const nlohmann::json& j, const std::string& where,
                                                         const char* key, const char* what) {
  std::vector<std::pair<std::string, T>> out;
  if (j.is_null()) return out;
  if (!j.is_object())
    throw Error(where + ": " + key + " must be an object {\"<regex>\": value}, found " + j.dump());
  for (auto it = j.begin(); it != j.end(); ++it) {
    const bool ok = std::is_integral_v<T> ? it.value().is_number_integer() : it.value().is_number();
    if (!ok)
      throw Error(where + ": " + key + "['" + it.key() + "'] must be " + what + ", found " +
                  it.value().dump());
    out.emplace_back(it.key(), it.value().get<T>());
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, int64_t>> rank_pattern_from_json(const nlohmann::json& j,
                                                                    const std::string& where) {
  return pattern_from_json<int64_t>(j, where, "rank_pattern", "an integer");
}

std::vector<std::pair<std::string, double>> alpha_pattern_from_json(const nlohmann::json& j,
                                                                    const std::string& where) {
  return pattern_from_json<double>(j, where, "alpha_pattern", "a number");
}

nlohmann::json peft_config_json(model::Model& m) {
  const LoraConfig c = lora_config(m);
  nlohmann::json j;  // an object keeps its keys sorted, as PEFT's json.dumps(sort_keys=True)
  j["alpha_pattern"] = nlohmann::json::object();
  for (const auto& [p, a] : c.alpha_pattern) j["alpha_pattern"][p] = a;
  if (m.source_dir.empty())
    j["base_model_name_or_path"] = nullptr;
  else
    j["base_model_name_or_path"] = m.source_dir;
  j["bias"] = c.bias;
  if (!c.exclude_regex.empty())
    j["exclude_modules"] = c.exclude_regex;
  else if (!c.exclude.empty())
    j["exclude_modules"] = c.exclude;
  else
    j["exclude_modules"] = nullptr;
  j["fan_in_fan_out"] = false;
  j["inference_mode"] = true;
  j["init_lora_weights"] = true;
  j["layers_pattern"] = one_or_list(c.layers_pattern);
  j["layers_to_transform"] = c.layers.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.layers);
  j["lora_alpha"] = c.alpha;
  j["lora_dropout"] = c.dropout;
  j["modules_to_save"] =
      c.modules_to_save.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.modules_to_save);
  j["peft_type"] = "LORA";
  j["r"] = c.r;
  j["rank_pattern"] = nlohmann::json::object();
  for (const auto& [p, r] : c.rank_pattern) j["rank_pattern"][p] = r;
  j["revision"] = nullptr;
  if (!c.target_regex.empty()) {
    j["target_modules"] = c.target_regex;  // PEFT keeps a regex as the string it was given
  } else {
    // A list is a set in PEFT (written as a list); "all-linear" is written expanded to the suffixes.
    std::set<std::string> names(c.targets.begin(), c.targets.end());
    if (c.all_linear) {
      names.clear();
      for (auto& x : lora_targets(m)) names.insert(x.module.substr(x.module.rfind('.') + 1));
    }
    j["target_modules"] = std::vector<std::string>(names.begin(), names.end());
  }
  j["task_type"] = "CAUSAL_LM";
  j["use_dora"] = false;
  j["use_rslora"] = c.rslora;
  return j;
}

LoraConfig lora_config_from_peft(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": expected a JSON object");
  if (j.value("peft_type", std::string()) != "LORA")
    throw Error(where + ": peft_type must be \"LORA\", found " +
                j.value("peft_type", nlohmann::json()).dump());
  auto flag = [&](const char* k) { return j.contains(k) && j[k].is_boolean() && j[k].get<bool>(); };
  if (flag("use_dora")) throw Error(where + ": DoRA adapters (use_dora = true) are not supported");
  if (flag("fan_in_fan_out"))
    throw Error(where + ": fan_in_fan_out = true (GPT-2 Conv1D layout) is not supported");
  auto num = [&](const char* k, double d) {
    if (!j.contains(k) || j[k].is_null()) return d;
    if (!j[k].is_number())
      throw Error(where + ": '" + std::string(k) + "' must be a number, found " + j[k].dump());
    return j[k].get<double>();
  };
  LoraConfig c;
  if (j.contains("r") && !j["r"].is_number_integer())
    throw Error(where + ": 'r' must be an integer, found " + j["r"].dump());
  c.r = j.value("r", int64_t{8});
  c.alpha = num("lora_alpha", 8.0);
  c.dropout = num("lora_dropout", 0.0);
  c.rslora = flag("use_rslora");
  if (j.contains("bias") && !j["bias"].is_null()) {
    if (!j["bias"].is_string()) throw Error(where + ": 'bias' must be a string, found " + j["bias"].dump());
    c.bias = j["bias"].get<std::string>();
  }
  const nlohmann::json tm = j.value("target_modules", nlohmann::json());
  if (tm.is_string()) {
    if (tm.get<std::string>() == "all-linear") {
      c.all_linear = true;
      c.targets.clear();
    } else {
      c.target_regex = tm.get<std::string>();
    }
  } else if (!tm.is_null()) {
    c.targets = string_list(tm, where, "target_modules");
  }
  const nlohmann::json ex = j.value("exclude_modules", nlohmann::json());
  if (ex.is_string())
    c.exclude_regex = ex.get<std::string>();
  else
    c.exclude = string_list(ex, where, "exclude_modules");
  const nlohmann::json lt = j.value("layers_to_transform", nlohmann::json());
  if (lt.is_number_integer()) {
    c.layers = {lt.get<int64_t>()};
  } else if (lt.is_array()) {
    for (const auto& e : lt) {
      if (!e.is_number_integer())
        throw Error(where + ": 'layers_to_transform' must list integers, found " + e.dump());
      c.layers.push_back(e.get<int64_t>());
    }
  } else if (!lt.is_null()) {
    throw Error(where + ": 'layers_to_transform' must be an integer or a list of integers, found " +
                lt.dump());
  }
  c.layers_pattern = string_list(j.value("layers_pattern", nlohmann::json()), where, "layers_pattern");
  c.rank_pattern = rank_pattern_from_json(j.value("rank_pattern", nlohmann::json()), where);
  c.alpha_pattern = alpha_pattern_from_json(j.value("alpha_pattern", nlohmann::json()), where);
  c.modules_to_save = string_list(j.value("modules_to_save", nlohmann::json()), where, "modules_to_save");
  try {
    check_lora_config(c);
  } catch (const Error& e) {
    throw Error(where + ": " + e.message(), e.hint());
  }
  return c;
}

void save_adapter(model::Model& m, const std::string& dir) {
  const LoraConfig c = lora_config(m);
  const nlohmann::json j = peft_config_json(m);
  AdapterTensors t = adapter_tensors(m, c);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (auto* group : {&t.required, &t.biases})
    for (auto& [name, v] : *group) tensors.emplace_back(name, v.detach().contiguous().cpu());
  fs::make_dirs(dir);
  io::write_safetensors_file(dir + "/adapter_model.safetensors", tensors, {{"format", "pt"}});
  fs::write_file_atomic(dir + "/adapter_config.json", j.dump(2) + "\n");
}

void load_adapter(model::Model& m, const std::string& dir) {
  const std::string cfg_path = dir + "/adapter_config.json";
  const std::string st_path = dir + "/adapter_model.safetensors";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(fs::read_file(cfg_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(cfg_path + ": invalid JSON (" + e.what() + ")");
  }
  LoraConfig c = lora_config_from_peft(j, cfg_path);
  auto sd = io::load_safetensors_file(st_path);
  if (lora_targets(m).empty()) {
    // Attach exactly where the file has tensors (PEFT made them where its config matched).
    for (auto& kv : sd) {
      const std::string& k = kv.first;
      if (k.compare(0, strlen(kPeftPrefix), kPeftPrefix) == 0 && ends_with(k, ".lora_A.weight"))
        c.exact_modules.push_back(
            k.substr(strlen(kPeftPrefix), k.size() - strlen(kPeftPrefix) - strlen(".lora_A.weight")));
    }
    if (c.exact_modules.empty()) throw Error(st_path + ": no 'base_model.model.*.lora_A.weight' tensor");
    try {
      apply_lora(m, c);
    } catch (const Error& e) {
      throw Error(dir + ": " + e.message(), e.hint());
    }
  } else {
    c = lora_config(m);
  }
  AdapterTensors want = adapter_tensors(m, c);
  // Biases are optional (PEFT's lora_only mode saves none since 0.7) and read under either name.
  std::map<std::string, at::Tensor> required_sd, bias_sd;
  std::map<std::string, at::Tensor> biases_by_param;  // HF parameter name -> live bias
  for (auto& p : m.lm->named_parameters())
    if (!is_adapter_param(p.key()) && ends_with(p.key(), ".bias")) biases_by_param[p.key()] = p.value();
  for (auto& kv : sd) {
    if (want.required.count(kv.first) || !ends_with(kv.first, ".bias")) {
      required_sd.insert(kv);
      continue;
    }
    std::string name = kv.first.compare(0, strlen(kPeftPrefix), kPeftPrefix) == 0
                           ? kv.first.substr(strlen(kPeftPrefix))
                           : kv.first;
    if (ends_with(name, ".base_layer.bias"))
      name = name.substr(0, name.size() - strlen(".base_layer.bias")) + ".bias";
    auto it = biases_by_param.find(name);
    if (it == biases_by_param.end())
      throw Error(st_path + ": tensor '" + kv.first + "' names no bias of this model",
                  "the adapter was made for another architecture, or the file is damaged");
    if (it->second.sizes() != kv.second.sizes())
      throw Error(st_path + ": tensor '" + kv.first + "' has shape " + c10::str(kv.second.sizes()) +
                  ", the model's bias has " + c10::str(it->second.sizes()));
    bias_sd[name] = kv.second;
  }
  std::map<std::string, std::vector<int64_t>> shapes;
  for (auto& e : want.required) shapes[e.first] = e.second.sizes().vec();
  io::check_state_dict(shapes, required_sd, st_path);
  torch::NoGradGuard ng;
  for (auto& e : want.required) e.second.copy_(required_sd.at(e.first));
  for (auto& e : bias_sd) biases_by_param.at(e.first).copy_(e.second);
}

}  // namespace ft::train
