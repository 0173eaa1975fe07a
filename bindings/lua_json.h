// Lua values <-> nlohmann::json for bindings that move rows and configs (datasets, adapter configs).
// Tables with keys 1..n become arrays, other tables objects; integral numbers become integers.
#pragma once

#include <lua.hpp>
#include <nlohmann/json.hpp>

namespace ft::lua {

void push_json_value(lua_State* L, const nlohmann::json& j);
// Throws ArgError(arg, ...) naming the path of an unsupported value (functions, userdata, cycles).
nlohmann::json to_json_value(lua_State* L, int idx, int arg);

}  // namespace ft::lua
