// config.json parsing for llama / qwen2 / mistral (transformers v4 and v5 keys) and RoPE frequencies.
#include "model/config.h"

#include <cmath>

#include "core/error.h"
#include "core/fs.h"

namespace ft::model {

namespace {

using nlohmann::json;

const char* kind_name(const json& v) {
  return v.type_name();
}

int64_t get_int(const json& j, const char* key, const std::string& source, std::optional<int64_t> dflt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (dflt) return *dflt;
    throw Error(source + ": field '" + key + "' is missing (expected an integer)",
                "HF config.json files for llama/qwen2/mistral carry it; check the file is a model config");
  }
  if (!it->is_number_integer())
    throw Error(source + ": field '" + key + "' must be an integer, found " + kind_name(*it) + " " +
                it->dump());
  return it->get<int64_t>();
}

double get_num(const json& j, const char* key, const std::string& source, double dflt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  if (!it->is_number())
    throw Error(source + ": field '" + key + "' must be a number, found " + kind_name(*it) + " " +
                it->dump());
  return it->get<double>();
}

bool get_bool(const json& j, const char* key, const std::string& source, bool dflt) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return dflt;
  if (!it->is_boolean())
    throw Error(source + ": field '" + key + "' must be true or false, found " + it->dump());
  return it->get<bool>();
}

std::optional<int64_t> get_opt_int(const json& j, const char* key, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (it->is_array()) {
    if (it->empty()) return std::nullopt;
    it = it->begin();
    if (!it->is_number_integer())
      throw Error(source + ": field '" + key + "' must hold integers, found " + it->dump());
    return it->get<int64_t>();
  }
  if (!it->is_number_integer())
    throw Error(source + ": field '" + key + "' must be an integer, found " + it->dump());
  return it->get<int64_t>();
}

// rope_scaling (v4) or rope_parameters (v5) object -> RopeScaling (+ theta for v5).
void parse_rope(const json& r, const std::string& field, const std::string& source, ModelConfig& c) {
  if (!r.is_object()) throw Error(source + ": field '" + field + "' must be an object, found " + r.dump());
  std::string type = "default";
  for (const char* k : {"rope_type", "type"}) {
    auto it = r.find(k);
    if (it != r.end() && !it->is_null()) {
      if (!it->is_string())
        throw Error(source + ": field '" + field + "." + k + "' must be a string, found " + it->dump());
      type = it->get<std::string>();
      break;
    }
  }
  const std::string where = source + " (" + field + ")";
  c.rope_scaling.type = type;
  if (r.contains("rope_theta")) c.rope_theta = get_num(r, "rope_theta", where, c.rope_theta);
  if (type == "default") return;
  if (type == "llama3") {
    c.rope_scaling.factor = get_num(r, "factor", where, 8.0);
    c.rope_scaling.low_freq_factor = get_num(r, "low_freq_factor", where, 1.0);
    c.rope_scaling.high_freq_factor = get_num(r, "high_freq_factor", where, 4.0);
    c.rope_scaling.original_max_position_embeddings =
        get_int(r, "original_max_position_embeddings", where, int64_t{8192});
    if (c.rope_scaling.factor <= 0 || c.rope_scaling.high_freq_factor <= c.rope_scaling.low_freq_factor)
      throw Error(where +
                  ": llama3 rope scaling needs factor > 0 and high_freq_factor > low_freq_factor, found " +
                  r.dump());
    return;
  }
  throw Error(where + ": rope type '" + type + "' is not supported (supported: default, llama3)",
              "fthost computes plain and llama3 RoPE (no linear/dynamic/yarn/longrope); "
              "remove rope_scaling for plain RoPE");
}

}  // namespace

c10::ScalarType dtype_from_hf(const std::string& name, const std::string& source) {
  if (name == "float32" || name == "float") return at::kFloat;
  if (name == "bfloat16") return at::kBFloat16;
  if (name == "float16" || name == "half") return at::kHalf;
  throw Error(source + ": dtype '" + name + "' is not supported (expected float32, bfloat16 or float16)");
}

std::string dtype_to_hf(c10::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return "float32";
    case at::kBFloat16:
      return "bfloat16";
    case at::kHalf:
      return "float16";
    default:
      throw Error(std::string("model dtype ") + c10::toString(t) + " is not supported",
                  "use f32, bf16 or f16");
  }
}

ModelConfig parse_config(const json& j, const std::string& source) {
  if (!j.is_object())
    throw Error(source + ": expected a JSON object at the top level, found " + kind_name(j));
  ModelConfig c;
  c.raw = j;
  auto mt = j.find("model_type");
  if (mt == j.end() || !mt->is_string())
    throw Error(source + ": field 'model_type' is missing or not a string",
                "expected \"llama\", \"qwen2\" or \"mistral\"");
  c.arch = mt->get<std::string>();
  if (c.arch != "llama" && c.arch != "qwen2" && c.arch != "mistral")
    throw Error(source + ": model_type '" + c.arch + "' is not supported (expected llama, qwen2 or mistral)",
                "fthost implements decoder-only llama-family models");
  c.vocab_size = get_int(j, "vocab_size", source, std::nullopt);
  c.hidden_size = get_int(j, "hidden_size", source, std::nullopt);
  c.intermediate_size = get_int(j, "intermediate_size", source, std::nullopt);
  c.num_hidden_layers = get_int(j, "num_hidden_layers", source, std::nullopt);
  c.num_attention_heads = get_int(j, "num_attention_heads", source, std::nullopt);
  c.num_key_value_heads = get_int(j, "num_key_value_heads", source, c.num_attention_heads);
  c.head_dim = c.num_attention_heads > 0 ? c.hidden_size / c.num_attention_heads : 0;
  c.head_dim = get_int(j, "head_dim", source, c.head_dim);
  c.max_position_embeddings = get_int(j, "max_position_embeddings", source, c.max_position_embeddings);
  c.rms_norm_eps = get_num(j, "rms_norm_eps", source, c.arch == "qwen2" ? 1e-6 : 1e-5);
  auto act = j.find("hidden_act");
  if (act != j.end() && !act->is_null() && *act != "silu")
    throw Error(source + ": hidden_act " + act->dump() + " is not supported (expected \"silu\")");
  c.rope_theta = get_num(j, "rope_theta", source, c.arch == "qwen2" ? 1000000.0 : 10000.0);
  if (auto it = j.find("rope_parameters"); it != j.end() && !it->is_null())
    parse_rope(*it, "rope_parameters", source, c);
  else if (auto it2 = j.find("rope_scaling"); it2 != j.end() && !it2->is_null())
    parse_rope(*it2, "rope_scaling", source, c);
  c.tie_word_embeddings = get_bool(j, "tie_word_embeddings", source, false);
  if (c.arch != "qwen2") {
    c.attention_bias = get_bool(j, "attention_bias", source, false);
    c.mlp_bias = get_bool(j, "mlp_bias", source, false);
  }
  // Sliding window: mistral applies it to every layer; qwen2 only with use_sliding_window, from
  // max_window_layers on; an explicit layer_types list wins.
  c.layer_sliding.assign(static_cast<size_t>(std::max<int64_t>(c.num_hidden_layers, 0)), false);
  std::optional<int64_t> window = get_opt_int(j, "sliding_window", source);
  if (c.arch == "mistral" && window) {
    c.sliding_window = *window;
    std::fill(c.layer_sliding.begin(), c.layer_sliding.end(), true);
  } else if (c.arch == "qwen2" && window && get_bool(j, "use_sliding_window", source, false)) {
    c.sliding_window = *window;
    int64_t from = get_int(j, "max_window_layers", source, c.num_hidden_layers);
    for (int64_t i = from; i < c.num_hidden_layers; ++i) c.layer_sliding[i] = true;
  }
  if (auto lt = j.find("layer_types"); lt != j.end() && lt->is_array() && c.sliding_window > 0) {
    if (static_cast<int64_t>(lt->size()) != c.num_hidden_layers)
      throw Error(source + ": field 'layer_types' has " + std::to_string(lt->size()) + " entries, expected " +
                  std::to_string(c.num_hidden_layers) + " (num_hidden_layers)");
    for (size_t i = 0; i < lt->size(); ++i) c.layer_sliding[i] = (*lt)[i] == "sliding_attention";
  }
  // dtype: v5 "dtype" wins over v4 "torch_dtype".
  for (const char* k : {"dtype", "torch_dtype"}) {
    auto it = j.find(k);
    if (it != j.end() && it->is_string()) {
      c.dtype = it->get<std::string>();
      dtype_from_hf(c.dtype, source + " (field '" + k + "')");
      break;
    }
  }
  c.bos_token_id = get_opt_int(j, "bos_token_id", source);
  c.pad_token_id = get_opt_int(j, "pad_token_id", source);
  if (auto it = j.find("eos_token_id"); it != j.end() && !it->is_null()) {
    if (it->is_array()) {
      for (const auto& e : *it) {
        if (!e.is_number_integer())
          throw Error(source + ": field 'eos_token_id' must hold integers, found " + e.dump());
        c.eos_token_ids.push_back(e.get<int64_t>());
      }
    } else if (it->is_number_integer()) {
      c.eos_token_ids.push_back(it->get<int64_t>());
    } else {
      throw Error(source + ": field 'eos_token_id' must be an integer or a list, found " + it->dump());
    }
  }
  validate_config(c, source);
  return c;
}

void validate_config(const ModelConfig& c, const std::string& source) {
  auto positive = [&](int64_t v, const char* name) {
    if (v <= 0) throw Error(source + ": field '" + name + "' must be > 0, found " + std::to_string(v));
  };
  positive(c.vocab_size, "vocab_size");
  positive(c.hidden_size, "hidden_size");
  positive(c.intermediate_size, "intermediate_size");
  positive(c.num_hidden_layers, "num_hidden_layers");
  positive(c.num_attention_heads, "num_attention_heads");
  positive(c.num_key_value_heads, "num_key_value_heads");
  positive(c.head_dim, "head_dim");
  if (c.head_dim % 2)
    throw Error(source + ": head_dim must be even for rotary embeddings, found " +
                std::to_string(c.head_dim));
  if (c.num_attention_heads % c.num_key_value_heads)
    throw Error(source + ": num_attention_heads (" + std::to_string(c.num_attention_heads) +
                    ") must be a multiple of num_key_value_heads (" + std::to_string(c.num_key_value_heads) +
                    ")",
                "grouped-query attention shares each kv head among heads/kv_heads query heads");
  if (c.rms_norm_eps <= 0) throw Error(source + ": field 'rms_norm_eps' must be > 0");
  if (c.rope_theta <= 0) throw Error(source + ": field 'rope_theta' must be > 0");
}

ModelConfig load_config(const std::string& path) {
  std::string text = fs::read_file(path);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(path + ": not valid JSON (" + e.what() + ")", "config.json must be a JSON object");
  }
  return parse_config(j, path);
}

json config_to_json(const ModelConfig& c) {
  json j = c.raw.is_object() ? c.raw : json::object();
  // v5 keys would shadow the ones written below when the file is read again: drop them.
  j.erase("rope_parameters");
  j.erase("dtype");
  static const char* kArchClass[][2] = {
      {"llama", "LlamaForCausalLM"}, {"qwen2", "Qwen2ForCausalLM"}, {"mistral", "MistralForCausalLM"}};
  for (auto& a : kArchClass)
    if (c.arch == a[0]) j["architectures"] = json::array({a[1]});
  j["model_type"] = c.arch;
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.num_key_value_heads;
  j["head_dim"] = c.head_dim;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["rope_theta"] = c.rope_theta;
  if (c.rope_scaling.type == "llama3") {
    j["rope_scaling"] = {
        {"rope_type", "llama3"},
        {"factor", c.rope_scaling.factor},
        {"low_freq_factor", c.rope_scaling.low_freq_factor},
        {"high_freq_factor", c.rope_scaling.high_freq_factor},
        {"original_max_position_embeddings", c.rope_scaling.original_max_position_embeddings}};
  } else {
    j["rope_scaling"] = nullptr;
  }
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  if (c.arch != "qwen2") {
    j["attention_bias"] = c.attention_bias;
    j["mlp_bias"] = c.mlp_bias;
  }
  j["torch_dtype"] = c.dtype;
  j["bos_token_id"] = c.bos_token_id ? json(*c.bos_token_id) : json(nullptr);
  j["pad_token_id"] = c.pad_token_id ? json(*c.pad_token_id) : json(nullptr);
  if (c.eos_token_ids.size() == 1)
    j["eos_token_id"] = c.eos_token_ids[0];
  else if (c.eos_token_ids.empty())
    j["eos_token_id"] = nullptr;
  else
    j["eos_token_id"] = c.eos_token_ids;
  if (!j.contains("transformers_version")) j["transformers_version"] = "4.46.0";
  return j;
}

at::Tensor rope_inv_freq(const ModelConfig& c) {
  const int64_t half = c.head_dim / 2;
  auto inv = at::empty({half}, at::kDouble);
  auto* p = inv.data_ptr<double>();
  const RopeScaling& s = c.rope_scaling;
  const double L = static_cast<double>(s.original_max_position_embeddings);
  for (int64_t i = 0; i < half; ++i) {
    double f = 1.0 / std::pow(c.rope_theta, static_cast<double>(2 * i) / static_cast<double>(c.head_dim));
    if (s.type == "llama3") {
      const double wavelen = 2.0 * M_PI / f;
      const double low_wl = L / s.low_freq_factor, high_wl = L / s.high_freq_factor;
      if (wavelen > low_wl) {
        f = f / s.factor;
      } else if (wavelen >= high_wl) {
        const double sm = (L / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        f = (1.0 - sm) * f / s.factor + sm * f;
      }
    }
    p[i] = f;
  }
  return inv;
}

}  // namespace ft::model
