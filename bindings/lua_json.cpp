// Lua <-> JSON conversion (see lua_json.h).
#include "lua_json.h"

#include <cmath>
#include <string>

#include "lua_util.h"

namespace ft::lua {

void push_json_value(lua_State* L, const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::boolean:
      lua_pushboolean(L, j.get<bool>());
      break;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      lua_pushnumber(L, j.get<double>());
      break;
    case nlohmann::json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      lua_pushlstring(L, s.data(), s.size());
      break;
    }
    case nlohmann::json::value_t::array: {
      lua_createtable(L, static_cast<int>(j.size()), 0);
      int i = 1;
      for (const auto& e : j) {
        push_json_value(L, e);
        lua_rawseti(L, -2, i++);
      }
      break;
    }
    case nlohmann::json::value_t::object:
      lua_createtable(L, 0, static_cast<int>(j.size()));
      for (auto it = j.begin(); it != j.end(); ++it) {
        push_json_value(L, it.value());
        lua_setfield(L, -2, it.key().c_str());
      }
      break;
    default:
      lua_pushnil(L);
  }
}

namespace {

nlohmann::json convert(lua_State* L, int idx, int arg, const std::string& path, int depth) {
  if (depth > 100) throw ArgError(arg, path + ": nested too deeply (a cycle?)");
  switch (lua_type(L, idx)) {
    case LUA_TNIL:
      return nullptr;
    case LUA_TBOOLEAN:
      return static_cast<bool>(lua_toboolean(L, idx));
    case LUA_TNUMBER: {
      double d = lua_tonumber(L, idx);
      if (d == std::floor(d) && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
      return d;
    }
    case LUA_TSTRING: {
      size_t n = 0;
      const char* s = lua_tolstring(L, idx, &n);
      return std::string(s, n);
    }
    case LUA_TTABLE: {
      if (idx < 0) idx = lua_gettop(L) + idx + 1;
      size_t n = lua_objlen(L, idx);
      size_t count = 0;
      bool string_keys = false;
      lua_pushnil(L);
      while (lua_next(L, idx)) {
        ++count;
        if (lua_type(L, -2) == LUA_TSTRING) string_keys = true;
        lua_pop(L, 1);
      }
      if (!string_keys && count == n && n > 0) {
        nlohmann::json a = nlohmann::json::array();
        for (size_t i = 1; i <= n; ++i) {
          lua_rawgeti(L, idx, static_cast<int>(i));
          a.push_back(convert(L, lua_gettop(L), arg, path + "[" + std::to_string(i) + "]", depth + 1));
          lua_pop(L, 1);
        }
        return a;
      }
      nlohmann::json o = nlohmann::json::object();
      lua_pushnil(L);
      while (lua_next(L, idx)) {
        std::string key;
        if (lua_type(L, -2) == LUA_TSTRING) {
          key = lua_tostring(L, -2);
        } else if (lua_type(L, -2) == LUA_TNUMBER) {
          lua_pushvalue(L, -2);
          key = lua_tostring(L, -1);
          lua_pop(L, 1);
        } else {
          lua_pop(L, 2);
          throw ArgError(arg, path + ": table keys must be strings or numbers");
        }
        o[key] = convert(L, lua_gettop(L), arg, path + "." + key, depth + 1);
        lua_pop(L, 1);
      }
      return o;
    }
    default:
      throw ArgError(arg, path + ": a " + std::string(lua_typename(L, lua_type(L, idx))) +
                              " cannot be converted to data (expected strings, numbers, booleans, tables)");
  }
}

}  // namespace

nlohmann::json to_json_value(lua_State* L, int idx, int arg) { return convert(L, idx, arg, "value", 0); }

}  // namespace ft::lua
