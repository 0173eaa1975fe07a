// _ft.chat: thin Lua wrappers over ft::text::ChatTemplate. A render context is a Lua table (converted
// to JSON: arrays for 1..n tables and for empty ones, objects with sorted keys otherwise) or a JSON
// string (key order kept). Generation spans come back as {start, end}: 1-based, inclusive byte
// positions, so text:sub(span[1], span[2]) is the assistant text.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "lua_util.h"
#include "text/chat_template.h"

FT_LUA_DECLARE_TYPE(ft::text::ChatTemplate, "ChatTemplate")

namespace ft::lua {
namespace {

using ft::text::ChatTemplate;
using Json = nlohmann::ordered_json;

constexpr int kMaxTableDepth = 200;

// Converts the Lua value at idx; `path` names it in errors ("context.messages[2].content").
Json to_json(lua_State* L, int idx, const std::string& path, int depth) {
  if (depth > kMaxTableDepth)
    throw ft::Error(path + ": tables nested deeper than " + std::to_string(kMaxTableDepth) + " levels",
                    "a table that contains itself cannot become a chat-template value");
  switch (lua_type(L, idx)) {
    case LUA_TNIL:
      return nullptr;
    case LUA_TBOOLEAN:
      return lua_toboolean(L, idx) != 0;
    case LUA_TNUMBER: {
      const double d = lua_tonumber(L, idx);
      // Lua 5.1 has one number type: integral values within 2^53 become JSON integers.
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) <= 9007199254740992.0)
        return static_cast<int64_t>(d);
      return d;
    }
    case LUA_TSTRING: {
      size_t n = 0;
      const char* s = lua_tolstring(L, idx, &n);
      return std::string(s, n);
    }
    case LUA_TTABLE:
      break;
    default:
      throw ft::Error(
          path + ": a " + std::string(luaL_typename(L, idx)) + " cannot be passed to a chat template",
          "context values are tables, strings, numbers, booleans and nil");
  }
  if (idx < 0) idx = lua_gettop(L) + idx + 1;
  // Array when the keys are exactly 1..n (n may be 0); object when every key is a string.
  const size_t n = lua_objlen(L, idx);
  size_t count = 0;
  bool all_strings = true;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    ++count;
    if (lua_type(L, -2) != LUA_TSTRING) all_strings = false;
    lua_pop(L, 1);
  }
  if (count == n) {
    Json arr = Json::array();
    for (size_t k = 1; k <= n; ++k) {
      lua_rawgeti(L, idx, static_cast<int>(k));
      arr.push_back(to_json(L, -1, path + "[" + std::to_string(k) + "]", depth + 1));
      lua_pop(L, 1);
    }
    return arr;
  }
  if (!all_strings)
    throw ft::Error(path + ": a table mixing list items and keys (or with non-string keys) has no JSON form",
                    "use a list {a, b} or a record {key = value}");
  std::vector<std::string> keys;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    keys.emplace_back(lua_tostring(L, -2));
    lua_pop(L, 1);
  }
  std::sort(keys.begin(), keys.end());  // Lua tables have no order; sorted keys make tojson repeatable
  Json obj = Json::object();
  for (const std::string& k : keys) {
    lua_getfield(L, idx, k.c_str());
    obj[k] = to_json(L, -1, path + "." + k, depth + 1);
    lua_pop(L, 1);
  }
  return obj;
}

Json context_arg(lua_State* L, int idx, const char* fname) {
  if (lua_type(L, idx) == LUA_TSTRING) {
    size_t n = 0;
    const char* s = lua_tolstring(L, idx, &n);
    Json j = Json::parse(s, s + n, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded())
      throw ft::Error(std::string(fname) + ": the context string is not valid JSON",
                      "pass a table, or a JSON object such as '{\"messages\": []}'");
    return j;
  }
  if (!lua_istable(L, idx)) throw ArgError(idx, "table or JSON string expected, got " + type_name(L, idx));
  Json j = to_json(L, idx, "context", 0);
  if (j.is_array() && j.empty()) return Json::object();  // {} as a whole context means no variables
  return j;
}

ft::text::ChatRenderOptions options_arg(lua_State* L, int idx) {
  ft::text::ChatRenderOptions o;
  if (!lua_istable(L, idx)) return o;
  if (has_field(L, idx, "now")) o.now = static_cast<std::time_t>(field_integer(L, idx, "now", 0));
  o.transformers_defaults = field_boolean(L, idx, "transformers_defaults", o.transformers_defaults);
  return o;
}

// Pushes text and the list of {start, end} spans (1-based, inclusive).
int push_result(lua_State* L, const ft::text::RenderResult& r) {
  lua_pushlstring(L, r.text.data(), r.text.size());
  lua_createtable(L, static_cast<int>(r.generation_spans.size()), 0);
  for (size_t k = 0; k < r.generation_spans.size(); ++k) {
    lua_createtable(L, 2, 0);
    lua_pushnumber(L, static_cast<double>(r.generation_spans[k].begin + 1));
    lua_rawseti(L, -2, 1);
    lua_pushnumber(L, static_cast<double>(r.generation_spans[k].end));
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, static_cast<int>(k + 1));
  }
  return 2;
}

// parse(source [, name]) -> ChatTemplate
int w_parse(lua_State* L) {
  push_object(L, std::make_shared<ChatTemplate>(check_string(L, 1), opt_string(L, 2, "")));
  return 1;
}

// render(source, context [, opts]) -> text, spans
int w_render(lua_State* L) {
  const ChatTemplate tpl(check_string(L, 1));
  return push_result(L, tpl.render(context_arg(L, 2, "ft.chat.render"), options_arg(L, 3)));
}

// tpl:render(context [, opts]) -> text, spans
int w_tpl_render(lua_State* L) {
  const ChatTemplate& tpl = check_ref<ChatTemplate>(L, 1);
  return push_result(L, tpl.render(context_arg(L, 2, "ChatTemplate:render"), options_arg(L, 3)));
}

int w_tpl_has_generation(lua_State* L) {
  lua_pushboolean(L, check_ref<ChatTemplate>(L, 1).has_generation_blocks());
  return 1;
}

int w_tpl_source(lua_State* L) {
  const std::string& s = check_ref<ChatTemplate>(L, 1).source();
  lua_pushlstring(L, s.data(), s.size());
  return 1;
}

const Reg kMethods[] = {{"render", w_tpl_render},
                        {"has_generation", w_tpl_has_generation},
                        {"source", w_tpl_source},
                        {nullptr, nullptr}};
const Reg kFuncs[] = {{"parse", w_parse}, {"render", w_render}, {nullptr, nullptr}};

int open_chat(lua_State* L) {
  define_type<ChatTemplate>(L, kMethods);
  lua_pop(L, 1);
  new_lib(L, "_ft.chat", kFuncs);
  return 1;
}

}  // namespace
}  // namespace ft::lua

FT_LUA_MODULE("_ft.chat", ft::lua::open_chat);
