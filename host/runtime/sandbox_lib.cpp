// Native half of ft.sandbox (stdlib/ft/sandbox.lua builds the environment): calls a function under a
// wall-clock and instruction budget, and reports whether the current sandbox call was killed.
#include <chrono>
#include <string>

#include "lua_util.h"
#include "runtime/hooks.h"

namespace ft::runtime {
namespace {

// _ft.sandbox.call(fn, timeout_ms, max_instructions, name, ...) -> results of fn(...)
int l_call(lua_State* L) {
  // Lua-raising checks first, before any C++ object with a destructor exists in this frame.
  luaL_checktype(L, 1, LUA_TFUNCTION);
  double timeout_ms = luaL_checknumber(L, 2);
  double max_instructions = luaL_optnumber(L, 3, 0);
  const char* name = luaL_optstring(L, 4, "sandboxed code");
  int n = 0;
  {
    SandboxLimits lim;
    lim.timeout_ms = timeout_ms;
    lim.max_instructions = max_instructions;
    lim.name = name;
    // Move fn above the limit arguments: stack = fn, args...
    lua_remove(L, 2);
    lua_remove(L, 2);
    lua_remove(L, 2);
    int nargs = lua_gettop(L) - 1;
    n = sandbox_call(L, 1, nargs, lim);
  }
  if (n < 0) return lua_error(L);
  return n;
}

int l_killed(lua_State* L) {
  lua_pushboolean(L, sandbox_killed());
  return 1;
}

int l_jit_off(lua_State* L) {
  jit_off_function(L, 1);
  return 0;
}

// _ft.sandbox.clock() -> monotonic seconds: the wall clock time limits are measured against (Lua's
// os.clock is process CPU time, which LibTorch's worker threads inflate).
int l_clock(lua_State* L) {
  auto t = std::chrono::steady_clock::now().time_since_epoch();
  lua_pushnumber(L, std::chrono::duration<double>(t).count());
  return 1;
}

int open_sandbox(lua_State* L) {
  const luaL_Reg fns[] = {
      {"call", l_call}, {"killed", l_killed}, {"jit_off", l_jit_off}, {"clock", l_clock}, {nullptr, nullptr}};
  lua_newtable(L);
  luaL_register(L, nullptr, fns);
  return 1;
}

}  // namespace
}  // namespace ft::runtime

FT_LUA_MODULE("_ft.sandbox", ft::runtime::open_sandbox);
