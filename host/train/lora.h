// LoRA (PEFT semantics): y = W x + (B A dropout(x)) * s with s = alpha / r (alpha / sqrt(r) with rslora),
// A [r, in] kaiming-uniform(a = sqrt 5), B [out, r] zeros. Adapters attach to model::Linear as the
// LinearAdapter named "lora" (parameters "<proj>.lora.lora_A" / "lora_B"); everything else is frozen
// except modules_to_save and the biases the bias mode names. Merge folds s * B A into W (and disables the
// adapter); unmerge subtracts it. save_adapter / load_adapter (lora_peft.cpp) use PEFT's files and
// tensor names (adapter_config.json, adapter_model.safetensors, "base_model.model.<module>.lora_A.weight").
#pragma once

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/linear.h"
#include "model/model.h"

namespace ft::train {

struct LoraConfig {
  int64_t r = 8;
  double alpha = 16;
  double dropout = 0.0;
  bool rslora = false;
  // Which Linear modules get adapters (PEFT check_target_module_exists), by HF module name
  // ("model.layers.0.self_attn.q_proj"): a list entry matches the name itself or a suffix after a dot
  // ("q_proj", "self_attn.v_proj"); target_regex (PEFT's target_modules given as one string) must match
  // the whole name instead; all_linear takes every Linear but lm_head.
  std::vector<std::string> targets = {"q_proj", "v_proj"};
  std::string target_regex;
  bool all_linear = false;
  // PEFT exclude_modules: modules never adapted (a list of names/suffixes, or exclude_regex).
  std::vector<std::string> exclude;
  std::string exclude_regex;
  // PEFT layers_to_transform / layers_pattern (list targets and all_linear only): keep modules whose
  // layer index (the number after "<pattern>." in the name, any pattern when empty) is listed.
  std::vector<int64_t> layers;
  std::vector<std::string> layers_pattern;
  // PEFT rank_pattern / alpha_pattern: per-module r and alpha, the first key k with
  // "(.*\.)?(k)$" matching the module name wins; in order.
  std::vector<std::pair<std::string, int64_t>> rank_pattern;
  std::vector<std::pair<std::string, double>> alpha_pattern;
  // Trainable biases (PEFT bias): "none"; "all" (every bias of the model); "lora_only" (the biases of
  // adapted modules). They are saved in the adapter file.
  std::string bias = "none";
  // Base parameters trained in full alongside the adapters (PEFT modules_to_save), by module name
  // suffix: "embed_tokens", "lm_head".
  std::vector<std::string> modules_to_save;
  uint64_t seed = 0;  // init of A
  // Set by load_adapter: exactly these modules get adapters (where the file has tensors), whatever the
  // matching fields above say; those fields keep the file's values, so save_adapter writes them back.
  std::vector<std::string> exact_modules;
};

// Throws an ft::Error for contradictory or invalid fields (PEFT's LoraConfig checks: layers with a
// regex target, layers_pattern without layers, unknown bias mode, r < 1, bad regexes).
void check_lora_config(const LoraConfig& c);
// PEFT's list match: key == t, or key ends with "." + t.
bool module_suffix_match(const std::string& key, const std::string& t);
// True when the module name is targeted by the config (exact_modules ignored).
bool lora_targets_module(const LoraConfig& c, const std::string& module);

class LoraAdapter : public model::LinearAdapter {
 public:
  // r and alpha are this module's (rank_pattern / alpha_pattern applied); the rest comes from c.
  LoraAdapter(int64_t in, int64_t out, int64_t r, double alpha, const LoraConfig& c, torch::Generator* gen);
  at::Tensor forward(const at::Tensor& x) override;
  double scale() const { return scale_; }
  at::Tensor delta_weight() const;  // s * B A, [out, in]

  at::Tensor lora_A, lora_B;
  int64_t r;
  double alpha, dropout_p;
  bool rslora, merged = false;
  std::shared_ptr<const LoraConfig> config;  // the config the adapters were made with (shared by all)

 private:
  double scale_;
};

struct LoraTarget {
  std::string module;  // HF module name, e.g. "model.layers.0.self_attn.q_proj"
  model::LinearImpl* linear;
  std::shared_ptr<LoraAdapter> adapter;
};

// Attaches adapters and freezes the base. Throws when no module matches the targets (listing the
// linear modules there are) or when the model already has adapters.
std::vector<LoraTarget> apply_lora(model::Model& m, const LoraConfig& c);
// The adapters attached to a model (empty when none).
std::vector<LoraTarget> lora_targets(model::Model& m);
// The config the attached adapters were made with; throws when none are attached.
LoraConfig lora_config(model::Model& m);

void merge_lora(model::Model& m);    // W += s B A for every adapter not merged yet
void unmerge_lora(model::Model& m);  // W -= s B A for every merged adapter
void set_lora_enabled(model::Model& m, bool enabled);

// PEFT layout: adapter_config.json + adapter_model.safetensors (written atomically). The file holds
// "base_model.model.<module>.lora_A.weight" [r, in] and ".lora_B.weight" [out, r] (f32), the
// modules_to_save parameters as "base_model.model.<module>.<param>", and with bias "all" / "lora_only"
// the trained biases: "<module>.base_layer.bias" for adapted modules (PEFT >= 0.7 wraps them as
// base_layer), "<module>.bias" otherwise.
void save_adapter(model::Model& m, const std::string& dir);
// adapter_config.json's object for the attached adapters (keys sorted, as PEFT writes them).
nlohmann::json peft_config_json(model::Model& m);
// A LoraConfig from an adapter_config.json object (where: the file, for errors). exact_modules empty.
LoraConfig lora_config_from_peft(const nlohmann::json& j, const std::string& where);
// PEFT's rank_pattern / alpha_pattern objects ({"<regex>": value}) in their order.
std::vector<std::pair<std::string, int64_t>> rank_pattern_from_json(const nlohmann::json& j,
                                                                    const std::string& where);
std::vector<std::pair<std::string, double>> alpha_pattern_from_json(const nlohmann::json& j,
                                                                    const std::string& where);
// Loads a PEFT adapter folder (fthost's or PEFT's): attaches adapters where the file has lora_A/lora_B
// tensors (when the model has none), with the file's config (r, alpha, rank/alpha patterns, rslora,
// bias, modules_to_save), and copies the tensors in. Biases are read under either PEFT name.
// Errors name missing/unexpected tensors and mis-shapes.
void load_adapter(model::Model& m, const std::string& dir);

// Names (ft internal) and tensors of every parameter that requires grad, in module order.
std::vector<std::pair<std::string, at::Tensor>> trainable_parameters(model::Model& m);

}  // namespace ft::train
