// Model configuration: the fields of a Hugging Face config.json that the transformer needs, parsed
// from transformers v4 (rope_theta/rope_scaling/torch_dtype) or v5 (rope_parameters/dtype) files,
// and written back in v4 form (which v5 also reads). Also computes RoPE inverse frequencies.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ft::model {

// rope_scaling / rope_parameters. Supported types: "default" and "llama3" (others are rejected).
struct RopeScaling {
  std::string type = "default";
  double factor = 1.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  int64_t original_max_position_embeddings = 8192;
};

struct ModelConfig {
  std::string arch = "qwen2";  // model_type: "llama", "qwen2" or "mistral"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;  // hidden_size / heads unless the file says otherwise
  int64_t max_position_embeddings = 32768;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool attention_bias = false;  // bias on q/k/v (qwen2: always; llama: attention_bias, also on o_proj)
  bool mlp_bias = false;        // llama only
  // Sliding-window attention (mistral; qwen2 with use_sliding_window). 0 = off. Per-layer switch.
  int64_t sliding_window = 0;
  std::vector<bool> layer_sliding;
  std::string dtype = "float32";  // torch_dtype / dtype as written in the file ("bfloat16", ...)
  std::optional<int64_t> bos_token_id, pad_token_id;
  std::vector<int64_t> eos_token_ids;
  nlohmann::json raw;  // the file as read (unknown keys are kept when saving)

  // q/k/v projections carry a bias (qwen2 always, llama/mistral when attention_bias).
  bool qkv_bias() const { return arch == "qwen2" || attention_bias; }
  // o_proj carries a bias (llama/mistral attention_bias only).
  bool o_bias() const { return arch != "qwen2" && attention_bias; }
};

// Parses a config.json object. `source` names the file in error messages. Throws ft::Error naming the
// field, what was expected and what was found.
ModelConfig parse_config(const nlohmann::json& j, const std::string& source);
ModelConfig load_config(const std::string& path);
// HF config.json (transformers v4 keys); unknown keys of `raw` are preserved.
nlohmann::json config_to_json(const ModelConfig& c);
// Checks internal consistency (heads divide, positive sizes...); throws ft::Error naming the field.
void validate_config(const ModelConfig& c, const std::string& source);

// RoPE inverse frequencies [head_dim/2], float64, with rope scaling applied (llama3 smoothing).
at::Tensor rope_inv_freq(const ModelConfig& c);

// torch dtype <-> HF dtype string ("float32", "bfloat16", "float16").
c10::ScalarType dtype_from_hf(const std::string& name, const std::string& source);
std::string dtype_to_hf(c10::ScalarType t);

}  // namespace ft::model
