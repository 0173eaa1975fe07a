// _ft.text: thin Lua wrappers over ft::text::Tokenizer. Options are validated by
// stdlib/ft/tokenizer.lua; ids cross as Lua integers, offsets as 1-based inclusive byte positions.
#include "wrap_text.h"

namespace ft::lua {

using text::TokenId;
using text::Tokenizer;

void push_ids(lua_State* L, const std::vector<TokenId>& ids) {
  lua_createtable(L, static_cast<int>(ids.size()), 0);
  for (size_t i = 0; i < ids.size(); ++i) {
    lua_pushinteger(L, ids[i]);
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
}

std::vector<TokenId> check_ids(lua_State* L, int idx, int arg) {
  if (arg == 0) arg = idx;
  if (!lua_istable(L, idx)) throw ArgError(arg, "list of token ids expected, got " + type_name(L, idx));
  std::vector<TokenId> out;
  size_t n = lua_objlen(L, idx);
  out.reserve(n);
  for (size_t i = 1; i <= n; ++i) {
    lua_rawgeti(L, idx, static_cast<int>(i));
    if (lua_type(L, -1) != LUA_TNUMBER) {
      std::string got = luaL_typename(L, -1);
      lua_pop(L, 1);
      throw ArgError(arg, "token ids must be integers (element " + std::to_string(i) + " is a " + got + ")");
    }
    out.push_back(static_cast<TokenId>(lua_tointeger(L, -1)));
    lua_pop(L, 1);
  }
  return out;
}

namespace {

// Offsets as {first, last} with text:sub(first, last) the token's text; added specials get {1, 0}.
void push_offsets(lua_State* L, const text::Encoding& e) {
  lua_createtable(L, static_cast<int>(e.offsets.size()), 0);
  for (size_t i = 0; i < e.offsets.size(); ++i) {
    lua_createtable(L, 2, 0);
    lua_pushinteger(L, static_cast<lua_Integer>(e.offsets[i].first) + 1);
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, static_cast<lua_Integer>(e.offsets[i].second));
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
}

// load(dir) -> Tokenizer
int w_load(lua_State* L) {
  push_tokenizer(L, text::load_tokenizer(check_string(L, 1)));
  return 1;
}

// bytes() -> the byte tokenizer
int w_bytes(lua_State* L) {
  push_tokenizer(L, text::make_byte_tokenizer());
  return 1;
}

// tok:encode(text, add_special, with_offsets) -> ids [, offsets]
int w_encode(lua_State* L) {
  const Tokenizer& t = check_ref<Tokenizer>(L, 1);
  size_t len = 0;
  if (lua_type(L, 2) != LUA_TSTRING) throw ArgError(2, "string expected, got " + type_name(L, 2));
  const char* s = lua_tolstring(L, 2, &len);
  text::Encoding e = t.encode(std::string_view(s, len), opt_boolean(L, 3, true));
  push_ids(L, e.ids);
  if (!opt_boolean(L, 4, false)) return 1;
  push_offsets(L, e);
  return 2;
}

// tok:encode_batch(texts, add_special, threads) -> { ids, ... }
int w_encode_batch(lua_State* L) {
  const Tokenizer& t = check_ref<Tokenizer>(L, 1);
  check_table(L, 2);
  std::vector<std::string> texts;
  size_t n = lua_objlen(L, 2);
  texts.reserve(n);
  for (size_t i = 1; i <= n; ++i) {
    lua_rawgeti(L, 2, static_cast<int>(i));
    if (lua_type(L, -1) != LUA_TSTRING) {
      std::string got = luaL_typename(L, -1);
      lua_pop(L, 1);
      throw ArgError(2, "texts must be strings (element " + std::to_string(i) + " is a " + got + ")");
    }
    size_t len = 0;
    const char* s = lua_tolstring(L, -1, &len);
    texts.emplace_back(s, len);
    lua_pop(L, 1);
  }
  auto encodings = t.encode_batch(texts, opt_boolean(L, 3, true), static_cast<int>(opt_integer(L, 4, 0)));
  lua_createtable(L, static_cast<int>(encodings.size()), 0);
  for (size_t i = 0; i < encodings.size(); ++i) {
    push_ids(L, encodings[i].ids);
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 1;
}

// tok:decode(ids, skip_special) -> string
int w_decode(lua_State* L) {
  const Tokenizer& t = check_ref<Tokenizer>(L, 1);
  std::string s = t.decode(check_ids(L, 2), opt_boolean(L, 3, false));
  lua_pushlstring(L, s.data(), s.size());
  return 1;
}

// tok:token_to_id(token) -> id | nil
int w_token_to_id(lua_State* L) {
  auto id = check_ref<Tokenizer>(L, 1).token_to_id(check_string(L, 2));
  if (id)
    lua_pushinteger(L, *id);
  else
    lua_pushnil(L);
  return 1;
}

// tok:id_to_token(id) -> token | nil
int w_id_to_token(lua_State* L) {
  auto tok = check_ref<Tokenizer>(L, 1).id_to_token(static_cast<TokenId>(check_integer(L, 2)));
  if (tok)
    lua_pushlstring(L, tok->data(), tok->size());
  else
    lua_pushnil(L);
  return 1;
}

// tok:is_special(id) -> boolean
int w_is_special(lua_State* L) {
  lua_pushboolean(L, check_ref<Tokenizer>(L, 1).is_special(static_cast<TokenId>(check_integer(L, 2))));
  return 1;
}

void set_opt_id(lua_State* L, const char* key, const std::optional<TokenId>& id) {
  if (!id) return;
  lua_pushinteger(L, *id);
  lua_setfield(L, -2, key);
}

void set_string(lua_State* L, const char* key, const std::string& s) {
  if (s.empty()) return;
  lua_pushlstring(L, s.data(), s.size());
  lua_setfield(L, -2, key);
}

// tok:info() -> {kind, vocab_size, bos_id, eos_id, pad_id, bos_token, eos_token, pad_token,
//                chat_template, chat_templates = {name = source}}
int w_info(lua_State* L) {
  const Tokenizer& t = check_ref<Tokenizer>(L, 1);
  lua_createtable(L, 0, 10);
  set_string(L, "kind", t.kind());
  lua_pushinteger(L, static_cast<lua_Integer>(t.vocab_size()));
  lua_setfield(L, -2, "vocab_size");
  set_opt_id(L, "bos_id", t.bos_id);
  set_opt_id(L, "eos_id", t.eos_id);
  set_opt_id(L, "pad_id", t.pad_id);
  set_string(L, "bos_token", t.bos_token);
  set_string(L, "eos_token", t.eos_token);
  set_string(L, "pad_token", t.pad_token);
  set_string(L, "chat_template", t.chat_template);
  lua_createtable(L, 0, static_cast<int>(t.named_chat_templates.size()));
  for (auto& [name, source] : t.named_chat_templates) {
    lua_pushlstring(L, source.data(), source.size());
    lua_setfield(L, -2, name.c_str());
  }
  lua_setfield(L, -2, "chat_templates");
  return 1;
}

const Reg kMethods[] = {{"encode", w_encode},
                        {"encode_batch", w_encode_batch},
                        {"decode", w_decode},
                        {"token_to_id", w_token_to_id},
                        {"id_to_token", w_id_to_token},
                        {"is_special", w_is_special},
                        {"info", w_info},
                        {nullptr, nullptr}};
const Reg kFuncs[] = {{"load", w_load}, {"bytes", w_bytes}, {nullptr, nullptr}};

int open_text(lua_State* L) {
  define_type<Tokenizer>(L, kMethods);
  lua_pop(L, 1);
  new_lib(L, "_ft.text", kFuncs);
  return 1;
}

}  // namespace

void push_tokenizer(lua_State* L, std::shared_ptr<text::Tokenizer> tok) {
  // The metatable is created when _ft.text is first opened; open it here if nobody has yet.
  luaL_getmetatable(L, TypeName<text::Tokenizer>::registry);
  bool defined = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (!defined) {
    lua_getglobal(L, "require");
    lua_pushstring(L, "_ft.text");
    call(L, 1, 0);
  }
  push_object(L, std::move(tok));
}

}  // namespace ft::lua

FT_LUA_MODULE("_ft.text", ft::lua::open_text);
