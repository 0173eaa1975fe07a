// A loaded or freshly initialised causal LM together with its tokenizer: the object behind Lua's
// ft.load / ft.new. Owns load (config.json + safetensors + tokenizer files), save (HF layout, sharded
// on request), device/dtype moves, parameter listings, generation on text, and GGUF export.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/config.h"
#include "model/generate.h"
#include "model/transformer.h"
#include "text/tokenizer.h"

namespace ft::model {

// Options of ft.new: a tiny model initialised at random. Sizes not given are derived (see defaults).
struct NewModelOptions {
  std::string arch = "qwen2";
  int64_t hidden = 64, layers = 2, heads = 4;
  int64_t kv_heads = 0;      // 0: = heads
  int64_t vocab = 0;         // 0: the byte tokenizer's 259
  int64_t intermediate = 0;  // 0: 4 * hidden
  int64_t head_dim = 0;      // 0: hidden / heads
  std::optional<bool> tie;   // default: true for qwen2 (like Qwen2.5 <= 3B), false otherwise
  int64_t max_positions = 4096;
  double rope_theta = 0;     // 0: the arch default (qwen2 1e6, llama/mistral 1e4)
  RopeScaling rope_scaling;  // type "default" (none) or "llama3"
  double rms_norm_eps = 1e-6;
  double init_std = 0.02;  // weights ~ N(0, init_std), like HF initializer_range
  uint64_t seed = 0;       // the same seed gives the same weights
};

struct ParamInfo {
  std::string name;
  std::vector<int64_t> shape;
  c10::ScalarType dtype;
};

class Model {
 public:
  // A random model (byte tokenizer when vocab >= 259).
  static std::shared_ptr<Model> create(const NewModelOptions& o);
  // From a config and weights already in memory (HF names); missing/extra/mis-shaped names are errors.
  static std::shared_ptr<Model> from_state_dict(const ModelConfig& c,
                                                const std::map<std::string, at::Tensor>& sd,
                                                std::shared_ptr<text::Tokenizer> tok,
                                                const std::string& source);
  // A folder with config.json + *.safetensors (+ tokenizer files). dtype unset: the config's dtype.
  static std::shared_ptr<Model> load(const std::string& dir, std::optional<c10::ScalarType> dtype,
                                     c10::Device device);

  // HF layout: config.json, model.safetensors (or shards + index when larger than max_shard_bytes,
  // 0 = never shard), generation_config.json, and the tokenizer files the model was loaded with.
  void save(const std::string& dir, uint64_t max_shard_bytes = 0);
  // GGUF for llama.cpp / Ollama (arch "qwen2", or "llama" for llama/mistral with q/k permuted back to
  // interleaved RoPE). 2-D weights in `type`, norms and biases in f32. Tokenizer metadata for byte-level
  // BPE (tokenizer.json) and the byte tokenizer; see gguf_export.cpp.
  void export_gguf(const std::string& path, io::GgufType type);

  at::Tensor forward(const ForwardInput& in);
  GenerateResult generate(const std::vector<std::string>& prompts, const GenerateOptions& opt,
                          bool add_special = true);
  GenerateResult generate_ids(const std::vector<std::vector<text::TokenId>>& prompts,
                              const GenerateOptions& opt);

  void to(std::optional<c10::Device> device, std::optional<c10::ScalarType> dtype);
  c10::Device device() const;
  c10::ScalarType dtype() const;
  // The HF-named base parameters (adapters excluded), in module order.
  std::vector<ParamInfo> parameters() const;
  std::vector<std::pair<std::string, at::Tensor>> state_dict() const;
  int64_t num_params() const;

  const ModelConfig& config() const { return lm->config; }
  CausalLM lm{nullptr};
  std::shared_ptr<text::Tokenizer> tokenizer;  // may be null
  std::string source_dir;                      // folder loaded from ("" for ft.new)

 private:
  explicit Model(const ModelConfig& c);
  std::vector<std::string> base_names_;  // parameter names before any adapter was attached
};

// Shapes of every base parameter a config implies (HF names), for checking loaded state dicts.
std::map<std::string, std::vector<int64_t>> expected_shapes(const ModelConfig& c);

}  // namespace ft::model
