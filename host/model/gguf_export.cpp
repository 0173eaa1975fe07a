// GGUF export for llama.cpp: HF tensor names -> GGUF names, the llama-arch q/k permutation back to
// interleaved RoPE, llama3 rope factors, hyper-parameter keys, and tokenizer metadata (byte-level BPE
// from tokenizer.json, or the byte tokenizer written as a merge-free GPT-2 style vocabulary).
// Key and tensor names follow llama.cpp's gguf-py constants and convert_hf_to_gguf.py.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "model/model.h"

namespace ft::model {

namespace {

using nlohmann::json;

// llama.cpp token types (llama_token_type / gguf-py TokenType).
constexpr int32_t kTokenNormal = 1, kTokenControl = 3, kTokenUserDefined = 4, kTokenUnused = 5;
// llama_ftype codes stored in general.file_type.
uint32_t file_type_code(io::GgufType t) {
  switch (t) {
    case io::GgufType::F32:
      return 0;
    case io::GgufType::F16:
      return 1;
    case io::GgufType::Q8_0:
      return 7;
    case io::GgufType::BF16:
      return 32;
  }
  return 0;
}

// GPT-2 byte-to-unicode: printable bytes map to themselves, the other 68 to U+0100.. in order.
std::string byte_token(int b) {
  auto printable = [](int c) {
    return (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
  };
  int cp = b;
  if (!printable(b)) {
    int n = 0;
    for (int c = 0; c < b; ++c)
      if (!printable(c)) ++n;
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

// HF q/k rows are ordered for rotate-half RoPE; llama-arch GGUF wants interleaved pairs
// (convert_hf_to_gguf LlamaModel.permute).
at::Tensor permute_for_interleaved(const at::Tensor& w, int64_t heads) {
  auto shape = w.sizes().vec();
  std::vector<int64_t> split = {heads, 2, w.size(0) / heads / 2};
  for (size_t i = 1; i < shape.size(); ++i) split.push_back(shape[i]);
  return w.reshape(split).transpose(1, 2).reshape(shape).contiguous();
}

struct Vocab {
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  std::vector<std::string> merges;
  std::string pre = "default";
};

Vocab byte_vocab(const text::Tokenizer& tok, int64_t n) {
  Vocab v;
  for (int64_t i = 0; i < n; ++i) {
    if (i < 256) {
      v.tokens.push_back(byte_token(static_cast<int>(i)));
      v.types.push_back(kTokenNormal);
    } else if (i < tok.vocab_size()) {
      v.tokens.push_back(
          tok.id_to_token(static_cast<text::TokenId>(i)).value_or("[UNK" + std::to_string(i) + "]"));
      v.types.push_back(kTokenControl);
    } else {
      v.tokens.push_back("[PAD" + std::to_string(i) + "]");
      v.types.push_back(kTokenUnused);
    }
  }
  return v;
}

Vocab bpe_vocab(const std::string& file, int64_t n) {
  json j;
  try {
    j = json::parse(fs::read_file(file));
  } catch (const json::parse_error& e) {
    throw Error(file + ": not valid JSON (" + e.what() + ")");
  }
  const json& model = j.at("model");
  if (model.value("type", "") != "BPE")
    throw Error(file + ": model.type is " + model.value("type", std::string("missing")) +
                ", GGUF export supports byte-level BPE only");
  Vocab v;
  v.tokens.assign(static_cast<size_t>(n), "");
  v.types.assign(static_cast<size_t>(n), kTokenUnused);
  auto put = [&](const std::string& tok, int64_t id, int32_t type) {
    if (id < 0 || id >= n)
      throw Error(file + ": token '" + tok + "' has id " + std::to_string(id) + " but the model has " +
                      std::to_string(n) + " embedding rows",
                  "the tokenizer does not belong to this model");
    v.tokens[id] = tok;
    v.types[id] = type;
  };
  for (auto it = model.at("vocab").begin(); it != model.at("vocab").end(); ++it)
    put(it.key(), it.value().get<int64_t>(), kTokenNormal);
  if (j.contains("added_tokens") && j["added_tokens"].is_array())
    for (const auto& a : j["added_tokens"])
      put(a.at("content").get<std::string>(), a.at("id").get<int64_t>(),
          a.value("special", false) ? kTokenControl : kTokenUserDefined);
  for (int64_t i = 0; i < n; ++i)
    if (v.types[i] == kTokenUnused && v.tokens[i].empty()) v.tokens[i] = "[PAD" + std::to_string(i) + "]";
  for (const auto& m : model.at("merges")) {
    if (m.is_string())
      v.merges.push_back(m.get<std::string>());
    else
      v.merges.push_back(m.at(0).get<std::string>() + " " + m.at(1).get<std::string>());
  }
  // The pre-tokenizer regex decides llama.cpp's pre type: Llama 3 splits digits in runs of up to 3,
  // Qwen2 splits single digits.
  const std::string pre = j.value("pre_tokenizer", json()).dump();
  if (pre.find("\\\\p{N}{1,3}") != std::string::npos)
    v.pre = "llama-bpe";
  else if (pre.find("[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}") != std::string::npos)
    v.pre = "qwen2";
  return v;
}

}  // namespace

void Model::export_gguf(const std::string& path, io::GgufType type) {
  const ModelConfig& c = config();
  const std::string arch = c.arch == "qwen2" ? "qwen2" : "llama";
  io::GgufWriter w;
  w.add_string("general.architecture", arch);
  std::string name =
      source_dir.empty() ? "fthost-" + c.arch : source_dir.substr(source_dir.find_last_of('/') + 1);
  w.add_string("general.name", name.empty() ? c.arch : name);
  w.add_u32("general.file_type", file_type_code(type));
  const std::pair<const char*, int64_t> hparams[] = {{"vocab_size", c.vocab_size},
                                                     {"context_length", c.max_position_embeddings},
                                                     {"embedding_length", c.hidden_size},
                                                     {"block_count", c.num_hidden_layers},
                                                     {"feed_forward_length", c.intermediate_size},
                                                     {"attention.head_count", c.num_attention_heads},
                                                     {"attention.head_count_kv", c.num_key_value_heads},
                                                     {"attention.key_length", c.head_dim},
                                                     {"attention.value_length", c.head_dim},
                                                     {"rope.dimension_count", c.head_dim}};
  for (const auto& [key, value] : hparams) w.add_u32(arch + "." + key, static_cast<uint32_t>(value));
  w.add_f32(arch + ".rope.freq_base", static_cast<float>(c.rope_theta));
  w.add_f32(arch + ".attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));

  // ---- tokenizer ----
  if (tokenizer) {
    Vocab v;
    if (tokenizer->kind() == "bytes") {
      v = byte_vocab(*tokenizer, c.vocab_size);
    } else if (tokenizer->kind() == "bpe" && !source_dir.empty() &&
               fs::exists(source_dir + "/tokenizer.json")) {
      v = bpe_vocab(source_dir + "/tokenizer.json", c.vocab_size);
    } else {
      throw Error("export_gguf: tokenizer kind '" + tokenizer->kind() + "' cannot be written to GGUF",
                  "GGUF export supports byte-level BPE tokenizers (tokenizer.json) and the byte tokenizer");
    }
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string("tokenizer.ggml.pre", v.pre);
    w.add_array("tokenizer.ggml.tokens", v.tokens);
    w.add_array("tokenizer.ggml.token_type", v.types);
    w.add_array("tokenizer.ggml.merges", v.merges);
    std::optional<text::TokenId> eos = tokenizer->eos_id;
    if (!eos && !c.eos_token_ids.empty()) eos = static_cast<text::TokenId>(c.eos_token_ids[0]);
    if (tokenizer->bos_id)
      w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(*tokenizer->bos_id));
    if (eos) w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(*eos));
    if (tokenizer->pad_id)
      w.add_u32("tokenizer.ggml.padding_token_id", static_cast<uint32_t>(*tokenizer->pad_id));
    // BOS is added when the tokenizer's post-processor adds it (Llama 3), not for Qwen2.
    const bool adds_bos = tokenizer->encode("a", true).ids.size() > tokenizer->encode("a", false).ids.size();
    w.add_bool("tokenizer.ggml.add_bos_token", adds_bos);
    if (!tokenizer->chat_template.empty()) w.add_string("tokenizer.chat_template", tokenizer->chat_template);
  }

  // ---- tensors ----
  torch::NoGradGuard no_grad;
  std::map<std::string, at::Tensor> sd;
  for (auto& [name, t] : state_dict()) sd[name] = t.detach().to(at::kCPU, at::kFloat).contiguous();
  auto add = [&](const std::string& name, const at::Tensor& t) {
    // llama.cpp keeps 1-D tensors (norms, biases) in f32.
    w.add_tensor(name, t, t.dim() == 1 ? io::GgufType::F32 : type);
  };
  const bool llama = arch == "llama";
  if (c.rope_scaling.type == "llama3") {
    // rope_freqs: per-dimension divisors of the base frequencies (llama.cpp divides theta by them).
    ModelConfig plain = c;
    plain.rope_scaling = RopeScaling{};
    add("rope_freqs.weight", (rope_inv_freq(plain) / rope_inv_freq(c)).to(at::kFloat));
  }
  add("token_embd.weight", sd.at("model.embed_tokens.weight"));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string hf = "model.layers." + std::to_string(i) + ".", g = "blk." + std::to_string(i) + ".";
    add(g + "attn_norm.weight", sd.at(hf + "input_layernorm.weight"));
    for (const char* part : {"weight", "bias"}) {
      const std::string q = hf + "self_attn.q_proj." + part, k = hf + "self_attn.k_proj." + part;
      const std::string vv = hf + "self_attn.v_proj." + part, o = hf + "self_attn.o_proj." + part;
      if (sd.count(q))
        add(g + "attn_q." + part,
            llama ? permute_for_interleaved(sd.at(q), c.num_attention_heads) : sd.at(q));
      if (sd.count(k))
        add(g + "attn_k." + part,
            llama ? permute_for_interleaved(sd.at(k), c.num_key_value_heads) : sd.at(k));
      if (sd.count(vv)) add(g + "attn_v." + part, sd.at(vv));
      if (sd.count(o)) add(g + "attn_output." + part, sd.at(o));
      for (auto [hfm, gm] :
           {std::pair{"gate_proj", "ffn_gate"}, {"up_proj", "ffn_up"}, {"down_proj", "ffn_down"}}) {
        const std::string n = hf + "mlp." + hfm + "." + part;
        if (sd.count(n)) add(g + gm + "." + part, sd.at(n));
      }
    }
    add(g + "ffn_norm.weight", sd.at(hf + "post_attention_layernorm.weight"));
  }
  add("output_norm.weight", sd.at("model.norm.weight"));
  if (!c.tie_word_embeddings) add("output.weight", sd.at("lm_head.weight"));
  w.write(path);
}

}  // namespace ft::model
