// Model: random init (ft.new), folder load/save in the HF layout, device/dtype moves, generation on text.
#include "model/model.h"

#include <map>
#include <set>

#include "core/error.h"
#include "core/fs.h"
#include "io/safetensors.h"

namespace ft::model {

namespace {

// Tokenizer and generation files copied along when a loaded model is saved elsewhere.
const char* const kSideFiles[] = {"tokenizer.json",
                                  "tokenizer_config.json",
                                  "special_tokens_map.json",
                                  "tokenizer.model",
                                  "vocab.json",
                                  "merges.txt",
                                  "added_tokens.json",
                                  "chat_template.jinja",
                                  "generation_config.json"};
// config.json marker: this model uses the built-in byte tokenizer (no tokenizer files).
constexpr const char* kByteTokenizerKey = "fthost_tokenizer";
constexpr int64_t kByteVocab = 259;

}  // namespace

Model::Model(const ModelConfig& c) {
  lm = CausalLM(c);
  for (const auto& p : lm->named_parameters()) base_names_.push_back(p.key());
}

std::map<std::string, std::vector<int64_t>> expected_shapes(const ModelConfig& c) {
  const int64_t H = c.hidden_size, I = c.intermediate_size, V = c.vocab_size, D = c.head_dim;
  const int64_t q = c.num_attention_heads * D, kv = c.num_key_value_heads * D;
  std::map<std::string, std::vector<int64_t>> m;
  m["model.embed_tokens.weight"] = {V, H};
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    m[p + "input_layernorm.weight"] = {H};
    m[p + "post_attention_layernorm.weight"] = {H};
    m[p + "self_attn.q_proj.weight"] = {q, H};
    m[p + "self_attn.k_proj.weight"] = {kv, H};
    m[p + "self_attn.v_proj.weight"] = {kv, H};
    m[p + "self_attn.o_proj.weight"] = {H, q};
    if (c.qkv_bias()) {
      m[p + "self_attn.q_proj.bias"] = {q};
      m[p + "self_attn.k_proj.bias"] = {kv};
      m[p + "self_attn.v_proj.bias"] = {kv};
    }
    if (c.o_bias()) m[p + "self_attn.o_proj.bias"] = {H};
    m[p + "mlp.gate_proj.weight"] = {I, H};
    m[p + "mlp.up_proj.weight"] = {I, H};
    m[p + "mlp.down_proj.weight"] = {H, I};
    if (c.mlp_bias) {
      m[p + "mlp.gate_proj.bias"] = {I};
      m[p + "mlp.up_proj.bias"] = {I};
      m[p + "mlp.down_proj.bias"] = {H};
    }
  }
  m["model.norm.weight"] = {H};
  if (!c.tie_word_embeddings) m["lm_head.weight"] = {V, H};
  return m;
}

std::shared_ptr<Model> Model::create(const NewModelOptions& o) {
  if (o.arch != "qwen2" && o.arch != "llama" && o.arch != "mistral")
    throw Error("ft.new: arch '" + o.arch + "' is not supported (expected qwen2, llama or mistral)");
  if (o.init_std <= 0) throw Error("ft.new: init_std must be > 0");
  ModelConfig c;
  c.arch = o.arch;
  c.hidden_size = o.hidden;
  c.num_hidden_layers = o.layers;
  c.num_attention_heads = o.heads;
  c.num_key_value_heads = o.kv_heads > 0 ? o.kv_heads : o.heads;
  c.vocab_size = o.vocab > 0 ? o.vocab : kByteVocab;
  c.intermediate_size = o.intermediate > 0 ? o.intermediate : 4 * o.hidden;
  c.head_dim = o.head_dim > 0 ? o.head_dim : (o.heads > 0 ? o.hidden / o.heads : 0);
  c.tie_word_embeddings = o.tie.value_or(o.arch == "qwen2");
  c.max_position_embeddings = o.max_positions;
  c.rope_theta = o.rope_theta > 0 ? o.rope_theta : (o.arch == "qwen2" ? 1000000.0 : 10000.0);
  c.rms_norm_eps = o.rms_norm_eps;
  c.rope_scaling = o.rope_scaling;
  if (c.rope_scaling.type != "default" && c.rope_scaling.type != "llama3")
    throw Error("ft.new: rope_scaling type '" + c.rope_scaling.type + "' is not supported (expected llama3)");
  c.layer_sliding.assign(static_cast<size_t>(std::max<int64_t>(o.layers, 0)), false);
  c.dtype = "float32";
  std::shared_ptr<text::Tokenizer> tok;
  if (c.vocab_size >= kByteVocab) {
    tok = text::make_byte_tokenizer();
    c.bos_token_id = *tok->bos_id;
    c.eos_token_ids = {*tok->eos_id};
    c.pad_token_id = *tok->pad_id;
    c.raw = nlohmann::json::object();
    c.raw[kByteTokenizerKey] = "bytes";
  }
  validate_config(c, "ft.new");
  std::shared_ptr<Model> m(new Model(c));
  m->tokenizer = tok;
  // Deterministic init in module order from one CPU generator. Biases and norm weights are perturbed
  // too (1 + noise for norms), so that tests and exports exercise every tensor.
  at::Generator gen = at::detail::createCPUGenerator(o.seed);
  torch::NoGradGuard no_grad;
  for (auto& p : m->lm->named_parameters()) {
    auto noise = at::empty(p.value().sizes(), at::kFloat).normal_(0.0, o.init_std, gen);
    const std::string& n = p.key();
    bool norm = n.find("norm.weight") != std::string::npos;
    p.value().copy_(norm ? noise + 1.0 : noise);
  }
  return m;
}

std::shared_ptr<Model> Model::from_state_dict(const ModelConfig& c,
                                              const std::map<std::string, at::Tensor>& sd,
                                              std::shared_ptr<text::Tokenizer> tok,
                                              const std::string& source) {
  // Accept what HF files may carry besides the parameters: a duplicate lm_head of tied models and
  // the obsolete rotary inv_freq buffers.
  std::map<std::string, at::Tensor> loaded;
  for (const auto& [name, t] : sd) {
    if (name.find("rotary_emb.inv_freq") != std::string::npos) continue;
    if (c.tie_word_embeddings && name == "lm_head.weight") continue;
    loaded.emplace(name, t);
  }
  io::check_state_dict(expected_shapes(c), loaded, source);
  std::shared_ptr<Model> m(new Model(c));
  m->tokenizer = std::move(tok);
  const auto dtype = dtype_from_hf(c.dtype, source);
  m->lm->to(dtype);
  torch::NoGradGuard no_grad;
  for (auto& p : m->lm->named_parameters()) p.value().copy_(loaded.at(p.key()));
  return m;
}

std::shared_ptr<Model> Model::load(const std::string& dir, std::optional<c10::ScalarType> dtype,
                                   c10::Device device) {
  const std::string cfg_path = dir + "/config.json";
  if (!fs::exists(cfg_path))
    throw Error("ft.load: " + dir + " has no config.json",
                "give a folder holding config.json and *.safetensors (a Hugging Face model snapshot)");
  ModelConfig c = load_config(cfg_path);
  if (dtype) c.dtype = dtype_to_hf(*dtype);
  std::shared_ptr<text::Tokenizer> tok;
  if (fs::exists(dir + "/tokenizer.json") || fs::exists(dir + "/tokenizer.model")) {
    tok = text::load_tokenizer(dir);
  } else if (c.raw.value(kByteTokenizerKey, "") == "bytes") {
    tok = text::make_byte_tokenizer();
  }
  auto sd = io::load_safetensors(dir);
  auto m = from_state_dict(c, sd, tok, dir);
  m->source_dir = dir;
  if (device != m->device()) m->lm->to(device);
  return m;
}

std::vector<std::pair<std::string, at::Tensor>> Model::state_dict() const {
  std::set<std::string> base(base_names_.begin(), base_names_.end());
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : lm->named_parameters())
    if (base.count(p.key())) out.emplace_back(p.key(), p.value());
  return out;
}

void Model::save(const std::string& dir, uint64_t max_shard_bytes) {
  fs::make_dirs(dir);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (auto& [name, t] : state_dict()) tensors.emplace_back(name, t.detach().to(at::kCPU).contiguous());
  io::save_safetensors(dir, tensors, {}, max_shard_bytes, "model");
  ModelConfig c = lm->config;
  c.dtype = dtype_to_hf(dtype());
  fs::write_file_atomic(dir + "/config.json", config_to_json(c).dump(2) + "\n");
  if (!source_dir.empty() && source_dir != dir) {
    for (const char* f : kSideFiles) {
      const std::string from = source_dir + "/" + f;
      if (fs::exists(from)) fs::write_file_atomic(dir + "/" + f, fs::read_file(from));
    }
  }
  if (!fs::exists(dir + "/generation_config.json")) {
    nlohmann::json g = {{"_from_model_config", true}};
    if (c.bos_token_id) g["bos_token_id"] = *c.bos_token_id;
    if (c.eos_token_ids.size() == 1)
      g["eos_token_id"] = c.eos_token_ids[0];
    else if (!c.eos_token_ids.empty())
      g["eos_token_id"] = c.eos_token_ids;
    if (c.pad_token_id) g["pad_token_id"] = *c.pad_token_id;
    fs::write_file_atomic(dir + "/generation_config.json", g.dump(2) + "\n");
  }
}

at::Tensor Model::forward(const ForwardInput& in) {
  return lm->forward(in);
}

GenerateResult Model::generate_ids(const std::vector<std::vector<text::TokenId>>& prompts,
                                   const GenerateOptions& opt) {
  return model::generate(lm, tokenizer.get(), prompts, opt);
}

GenerateResult Model::generate(const std::vector<std::string>& prompts, const GenerateOptions& opt,
                               bool add_special) {
  if (!tokenizer)
    throw Error("generate: this model has no tokenizer, so text prompts cannot be encoded",
                "pass token ids instead, or load a folder with tokenizer.json");
  std::vector<std::vector<text::TokenId>> ids;
  for (const auto& e : tokenizer->encode_batch(prompts, add_special, 0)) ids.push_back(e.ids);
  return generate_ids(ids, opt);
}

void Model::to(std::optional<c10::Device> device, std::optional<c10::ScalarType> dtype) {
  if (dtype) dtype_to_hf(*dtype);  // rejects unsupported dtypes
  if (device && dtype)
    lm->to(*device, *dtype);
  else if (device)
    lm->to(*device);
  else if (dtype)
    lm->to(*dtype);
}

c10::Device Model::device() const {
  return lm->model->embed_tokens->weight.device();
}

c10::ScalarType Model::dtype() const {
  return lm->model->embed_tokens->weight.scalar_type();
}

std::vector<ParamInfo> Model::parameters() const {
  std::vector<ParamInfo> out;
  for (const auto& p : lm->named_parameters())
    out.push_back({p.key(), p.value().sizes().vec(), p.value().scalar_type()});
  return out;
}

int64_t Model::num_params() const {
  int64_t n = 0;
  for (const auto& p : lm->parameters()) n += p.numel();
  return n;
}

}  // namespace ft::model
