// _ft.model: thin Lua wrappers over ft::model::Model (the object behind ft.load / ft.new). Options were
// validated by stdlib/ft/model.lua; this file only moves values between Lua and C++.
#include <nlohmann/json.hpp>

#include "lua_json.h"
#include "lua_util.h"
#include "model/model.h"
#include "wrap_tensor.h"
#include "wrap_text.h"

FT_LUA_DECLARE_TYPE(ft::model::Model, "Model")

namespace ft::lua {
namespace {

using ft::model::Model;

std::vector<text::TokenId> check_ids(lua_State* L, int idx, int arg) {
  std::vector<text::TokenId> out;
  size_t n = lua_objlen(L, idx);
  for (size_t i = 1; i <= n; ++i) {
    lua_rawgeti(L, idx, static_cast<int>(i));
    if (!lua_isnumber(L, -1)) {
      lua_pop(L, 1);
      throw ArgError(arg, "token ids must be integers (element " + std::to_string(i) + ")");
    }
    out.push_back(static_cast<text::TokenId>(lua_tointeger(L, -1)));
    lua_pop(L, 1);
  }
  return out;
}

void push_ids(lua_State* L, const std::vector<text::TokenId>& ids) {
  lua_createtable(L, static_cast<int>(ids.size()), 0);
  for (size_t i = 0; i < ids.size(); ++i) {
    lua_pushinteger(L, ids[i]);
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
}

// new(opts): fields already validated and defaulted by ft.new.
int w_new(lua_State* L) {
  check_table(L, 1);
  ft::model::NewModelOptions o;
  o.arch = field_string(L, 1, "arch", o.arch);
  o.hidden = field_integer(L, 1, "hidden", o.hidden);
  o.layers = field_integer(L, 1, "layers", o.layers);
  o.heads = field_integer(L, 1, "heads", o.heads);
  o.kv_heads = field_integer(L, 1, "kv_heads", o.kv_heads);
  o.vocab = field_integer(L, 1, "vocab", o.vocab);
  o.intermediate = field_integer(L, 1, "intermediate", o.intermediate);
  o.head_dim = field_integer(L, 1, "head_dim", o.head_dim);
  if (has_field(L, 1, "tie")) o.tie = field_boolean(L, 1, "tie", true);
  o.max_positions = field_integer(L, 1, "max_positions", o.max_positions);
  o.rope_theta = field_number(L, 1, "rope_theta", o.rope_theta);
  o.rms_norm_eps = field_number(L, 1, "rms_norm_eps", o.rms_norm_eps);
  o.init_std = field_number(L, 1, "init_std", o.init_std);
  o.seed = static_cast<uint64_t>(field_integer(L, 1, "seed", 0));
  lua_getfield(L, 1, "rope_scaling");
  if (lua_istable(L, -1)) {
    const int t = lua_gettop(L);
    auto& r = o.rope_scaling;
    r.type = field_string(L, t, "rope_type", "llama3");
    r.factor = field_number(L, t, "factor", r.factor);
    r.low_freq_factor = field_number(L, t, "low_freq_factor", r.low_freq_factor);
    r.high_freq_factor = field_number(L, t, "high_freq_factor", r.high_freq_factor);
    r.original_max_position_embeddings =
        field_integer(L, t, "original_max_position_embeddings", r.original_max_position_embeddings);
  }
  lua_pop(L, 1);
  push_object(L, Model::create(o));
  return 1;
}

// load(dir, dtype|nil, device)
int w_load(lua_State* L) {
  std::string dir = check_string(L, 1);
  std::optional<c10::ScalarType> dtype;
  if (!is_none_or_nil(L, 2)) dtype = parse_dtype(check_string(L, 2));
  c10::Device device = parse_device(opt_string(L, 3, "cpu"));
  push_object(L, Model::load(dir, dtype, device));
  return 1;
}

// m:forward(ids [B,T], mask|nil, position_ids|nil, segment_ids|nil) -> logits [B,T,V]
int w_forward(lua_State* L) {
  Model& m = check_ref<Model>(L, 1);
  ft::model::ForwardInput in;
  in.input_ids = to_tensor(L, 2, at::kLong).to(at::kLong);
  if (in.input_ids.dim() == 1) in.input_ids = in.input_ids.unsqueeze(0);
  if (!is_none_or_nil(L, 3)) in.attention_mask = to_tensor(L, 3, at::kLong);
  if (!is_none_or_nil(L, 4)) in.position_ids = to_tensor(L, 4, at::kLong);
  if (!is_none_or_nil(L, 5)) in.segment_ids = to_tensor(L, 5, at::kLong);
  torch::NoGradGuard no_grad;  // inspection from Lua; trainers call the engine directly
  push_tensor(L, m.forward(in));
  return 1;
}

// m:generate(prompts, opts, stream|nil) -> texts, ids, reasons. prompts: list of strings or of id lists.
int w_generate(lua_State* L) {
  auto mp = check_object<Model>(L, 1);
  check_table(L, 2);
  check_table(L, 3);
  ft::model::GenerateOptions o;
  o.max_new_tokens = field_integer(L, 3, "max_new_tokens", o.max_new_tokens);
  o.sampling.temperature = field_number(L, 3, "temperature", o.sampling.temperature);
  o.sampling.top_k = field_integer(L, 3, "top_k", o.sampling.top_k);
  o.sampling.top_p = field_number(L, 3, "top_p", o.sampling.top_p);
  o.sampling.min_p = field_number(L, 3, "min_p", o.sampling.min_p);
  o.sampling.repetition_penalty = field_number(L, 3, "repetition_penalty", o.sampling.repetition_penalty);
  o.skip_special_tokens = field_boolean(L, 3, "skip_special_tokens", true);
  if (has_field(L, 3, "seed")) o.seed = static_cast<uint64_t>(field_integer(L, 3, "seed", 0));
  lua_getfield(L, 3, "eos_ids");
  if (lua_istable(L, -1)) o.eos_ids = check_ids(L, lua_gettop(L), 3);
  lua_pop(L, 1);
  o.stop = field_string_list(L, 3, "stop");
  const bool add_special = field_boolean(L, 3, "add_special_tokens", true);
  if (lua_isfunction(L, 4)) {
    const auto tok = mp->tokenizer;
    o.stream = [L, tok](int seq, text::TokenId t) {
      lua_pushvalue(L, 4);
      lua_pushinteger(L, seq + 1);
      lua_pushinteger(L, t);
      if (tok) {
        std::string piece = tok->decode({t}, false);
        lua_pushlstring(L, piece.data(), piece.size());
      } else {
        lua_pushnil(L);
      }
      call(L, 3, 1);
      bool keep = !(lua_isboolean(L, -1) && !lua_toboolean(L, -1));
      lua_pop(L, 1);
      return keep;
    };
  }
  // prompts: all strings or all id lists
  std::vector<std::string> texts;
  std::vector<std::vector<text::TokenId>> ids;
  size_t n = lua_objlen(L, 2);
  for (size_t i = 1; i <= n; ++i) {
    lua_rawgeti(L, 2, static_cast<int>(i));
    if (lua_type(L, -1) == LUA_TSTRING) {
      size_t len = 0;
      const char* s = lua_tolstring(L, -1, &len);
      texts.emplace_back(s, len);
    } else if (lua_istable(L, -1)) {
      ids.push_back(check_ids(L, lua_gettop(L), 2));
    } else {
      lua_pop(L, 1);
      throw ArgError(2, "prompt " + std::to_string(i) + " must be a string or a list of token ids");
    }
    lua_pop(L, 1);
  }
  if (!texts.empty() && !ids.empty()) throw ArgError(2, "prompts must be all strings or all token-id lists");
  ft::model::GenerateResult r =
      texts.empty() ? mp->generate_ids(ids, o) : mp->generate(texts, o, add_special);
  lua_createtable(L, static_cast<int>(r.text.size()), 0);
  for (size_t i = 0; i < r.text.size(); ++i) {
    lua_pushlstring(L, r.text[i].data(), r.text[i].size());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  lua_createtable(L, static_cast<int>(r.ids.size()), 0);
  for (size_t i = 0; i < r.ids.size(); ++i) {
    push_ids(L, r.ids[i]);
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  lua_createtable(L, static_cast<int>(r.finish_reason.size()), 0);
  for (size_t i = 0; i < r.finish_reason.size(); ++i) {
    lua_pushstring(L, r.finish_reason[i].c_str());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 3;
}

int w_save(lua_State* L) {
  Model& m = check_ref<Model>(L, 1);
  m.save(check_string(L, 2), static_cast<uint64_t>(opt_number(L, 3, 0)));
  return 0;
}

int w_export_gguf(lua_State* L) {
  Model& m = check_ref<Model>(L, 1);
  m.export_gguf(check_string(L, 2), io::parse_gguf_type(opt_string(L, 3, "f16")));
  return 0;
}

int w_to(lua_State* L) {
  Model& m = check_ref<Model>(L, 1);
  std::optional<c10::Device> device;
  std::optional<c10::ScalarType> dtype;
  if (!is_none_or_nil(L, 2)) device = parse_device(check_string(L, 2));
  if (!is_none_or_nil(L, 3)) dtype = parse_dtype(check_string(L, 3));
  m.to(device, dtype);
  return 0;
}

int w_parameters(lua_State* L) {
  Model& m = check_ref<Model>(L, 1);
  auto ps = m.parameters();
  lua_createtable(L, static_cast<int>(ps.size()), 0);
  for (size_t i = 0; i < ps.size(); ++i) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, ps[i].name.c_str());
    lua_setfield(L, -2, "name");
    lua_createtable(L, static_cast<int>(ps[i].shape.size()), 0);
    for (size_t d = 0; d < ps[i].shape.size(); ++d) {
      lua_pushinteger(L, ps[i].shape[d]);
      lua_rawseti(L, -2, static_cast<int>(d + 1));
    }
    lua_setfield(L, -2, "shape");
    lua_pushstring(L, dtype_name(ps[i].dtype).c_str());
    lua_setfield(L, -2, "dtype");
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 1;
}

// m:parameter(name) -> the live parameter tensor (shares storage with the model)
int w_parameter(lua_State* L) {
  Model& m = check_ref<Model>(L, 1);
  std::string name = check_string(L, 2);
  for (const auto& p : m.lm->named_parameters())
    if (p.key() == name) {
      push_tensor(L, p.value());
      return 1;
    }
  throw ft::Error("parameter '" + name + "' not found", "m:parameters() lists the names");
}

int w_num_params(lua_State* L) {
  lua_pushnumber(L, static_cast<double>(check_ref<Model>(L, 1).num_params()));
  return 1;
}

int w_config(lua_State* L) {
  Model& m = check_ref<Model>(L, 1);
  ft::model::ModelConfig c = m.config();
  c.dtype = ft::model::dtype_to_hf(m.dtype());
  push_json_value(L, ft::model::config_to_json(c));
  return 1;
}

int w_info(lua_State* L) {
  Model& m = check_ref<Model>(L, 1);
  lua_createtable(L, 0, 4);
  lua_pushstring(L, m.device().str().c_str());
  lua_setfield(L, -2, "device");
  lua_pushstring(L, dtype_name(m.dtype()).c_str());
  lua_setfield(L, -2, "dtype");
  lua_pushstring(L, m.tokenizer ? m.tokenizer->kind().c_str() : "none");
  lua_setfield(L, -2, "tokenizer");
  lua_pushstring(L, m.source_dir.c_str());
  lua_setfield(L, -2, "source");
  return 1;
}

// m:encode(text, add_special) / m:decode(ids, skip_special) through the model's tokenizer
int w_encode(lua_State* L) {
  Model& m = check_ref<Model>(L, 1);
  if (!m.tokenizer) throw ft::Error("this model has no tokenizer");
  push_ids(L, m.tokenizer->encode(check_string(L, 2), opt_boolean(L, 3, true)).ids);
  return 1;
}

int w_decode(lua_State* L) {
  Model& m = check_ref<Model>(L, 1);
  if (!m.tokenizer) throw ft::Error("this model has no tokenizer");
  check_table(L, 2);
  std::string s = m.tokenizer->decode(check_ids(L, 2, 2), opt_boolean(L, 3, true));
  lua_pushlstring(L, s.data(), s.size());
  return 1;
}

// m:tokenizer_handle() -> the model's Tokenizer userdata (nil when it has none); stdlib wraps it as m.tokenizer
int w_tokenizer(lua_State* L) {
  Model& m = check_ref<Model>(L, 1);
  if (!m.tokenizer) {
    lua_pushnil(L);
    return 1;
  }
  push_tokenizer(L, m.tokenizer);
  return 1;
}

const Reg kMethods[] = {{"forward", w_forward},
                        {"generate", w_generate},
                        {"save", w_save},
                        {"export_gguf", w_export_gguf},
                        {"to", w_to},
                        {"parameters", w_parameters},
                        {"parameter", w_parameter},
                        {"num_params", w_num_params},
                        {"config", w_config},
                        {"info", w_info},
                        {"encode", w_encode},
                        {"decode", w_decode},
                        {"tokenizer_handle", w_tokenizer},
                        {nullptr, nullptr}};
const Reg kFuncs[] = {{"new", w_new}, {"load", w_load}, {nullptr, nullptr}};

int open_model(lua_State* L) {
  define_type<Model>(L, kMethods);
  lua_pop(L, 1);
  new_lib(L, "_ft.model", kFuncs);
  return 1;
}

}  // namespace
}  // namespace ft::lua

FT_LUA_MODULE("_ft.model", ft::lua::open_model);
