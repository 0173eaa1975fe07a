// LoRA (PEFT semantics): y = W x + (B A dropout(x)) * s with s = alpha / r (alpha / sqrt(r) with rslora),
// A [r, in] kaiming-uniform(a = sqrt 5), B [out, r] zeros. Adapters attach to model::Linear as the
// LinearAdapter named "lora" (parameters "<proj>.lora.lora_A" / "lora_B"); everything else is frozen
// except modules_to_save. Merge folds s * B A into W (and disables the adapter); unmerge subtracts it.
// save_adapter / load_adapter use PEFT's files and tensor names (adapter_config.json,
// adapter_model.safetensors, "base_model.model.<module>.lora_A.weight").
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "model/linear.h"
#include "model/model.h"

namespace ft::train {

struct LoraConfig {
  int64_t r = 8;
  double alpha = 16;
  double dropout = 0.0;
  bool rslora = false;
  // Module-name suffixes ("q_proj", "self_attn.v_proj"); or all_linear (every projection but lm_head).
  std::vector<std::string> targets = {"q_proj", "v_proj"};
  bool all_linear = false;
  // Base parameters trained in full alongside the adapters (PEFT modules_to_save), by module name
  // suffix: "embed_tokens", "lm_head".
  std::vector<std::string> modules_to_save;
  uint64_t seed = 0;  // init of A
};

class LoraAdapter : public model::LinearAdapter {
 public:
  LoraAdapter(int64_t in, int64_t out, const LoraConfig& c, torch::Generator* gen);
  at::Tensor forward(const at::Tensor& x) override;
  double scale() const { return scale_; }
  at::Tensor delta_weight() const;  // s * B A, [out, in]

  at::Tensor lora_A, lora_B;
  int64_t r;
  double alpha, dropout_p;
  bool rslora, merged = false;

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
// The config of the attached adapters (from the first one); throws when none are attached.
LoraConfig lora_config(model::Model& m);

void merge_lora(model::Model& m);    // W += s B A for every adapter not merged yet
void unmerge_lora(model::Model& m);  // W -= s B A for every merged adapter
void set_lora_enabled(model::Model& m, bool enabled);

// PEFT layout: adapter_config.json + adapter_model.safetensors (written atomically).
void save_adapter(model::Model& m, const std::string& dir);
// Loads a PEFT adapter folder: attaches adapters per its config (when the model has none) and copies
// the tensors in. Errors name missing/unexpected tensors and mis-shapes.
void load_adapter(model::Model& m, const std::string& dir);

// Names (ft internal) and tensors of every parameter that requires grad, in module order.
std::vector<std::pair<std::string, at::Tensor>> trainable_parameters(model::Model& m);

}  // namespace ft::train
