// 1000 crossings each way between C++ exceptions and Lua errors, checked for leaks and memory errors by
// ASan/LSan: native functions that throw (their C++ locals must be destroyed, the message must reach
// Lua), Lua callbacks that fail inside C++ (LuaError carries the traceback), and both nested.
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "lua_util.h"

namespace {

int g_live = 0;  // objects constructed in native frames and not yet destroyed
struct Tracked {
  std::vector<char> payload = std::vector<char>(256, 'x');  // heap memory LSan would see leaking
  Tracked() { ++g_live; }
  ~Tracked() { --g_live; }
};

int throws(lua_State* L) {
  Tracked t;
  auto shared = std::make_shared<Tracked>();
  std::string msg = ft::lua::check_string(L, 1);
  throw ft::Error(msg, "a hint");
}

int bad_arg(lua_State* L) {
  Tracked t;
  ft::lua::check_number(L, 1);
  return 0;
}

// calls its argument from C++; a Lua error comes back as ft::lua::LuaError and propagates.
int calls(lua_State* L) {
  Tracked t;
  ft::lua::check_function(L, 1);
  lua_pushvalue(L, 1);
  ft::lua::call(L, 0, 1);
  return 1;
}

struct State {
  lua_State* L = luaL_newstate();
  State() {
    luaL_openlibs(L);
    ft::lua::push_native(L, "t.throws", throws);
    lua_setglobal(L, "throws");
    ft::lua::push_native(L, "t.bad_arg", bad_arg);
    lua_setglobal(L, "bad_arg");
    ft::lua::push_native(L, "t.calls", calls);
    lua_setglobal(L, "calls");
  }
  ~State() { lua_close(L); }
  std::string run(const char* code) {
    if (luaL_loadstring(L, code) != 0) return std::string("compile: ") + lua_tostring(L, -1);
    lua_pushcfunction(L, ft::lua::traceback_handler);
    lua_insert(L, -2);
    int rc = lua_pcall(L, 0, 1, -2);
    std::string out = lua_isstring(L, -1) ? lua_tostring(L, -1) : "";
    lua_pop(L, 2);
    return (rc ? "error: " : "") + out;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(cpp_exception_to_lua_error_1000_times) {
  State s;
  std::string r = s.run(R"LUA(
    local n = 0
    for i = 1, 1000 do
      local ok, err = pcall(throws, "boom " .. i)
      assert(not ok and err:find("t.throws: boom " .. i, 1, true) and err:find("hint: a hint", 1, true), err)
      local ok2, err2 = pcall(bad_arg, "x")
      assert(not ok2 and err2:find("bad argument #1 to 't.bad_arg' (number expected, got string)", 1, true), err2)
      n = n + 1
    end
    return tostring(n))LUA");
  BOOST_TEST(r == "1000");
  BOOST_TEST(g_live == 0);
}

BOOST_AUTO_TEST_CASE(lua_error_in_callback_to_cpp_exception_1000_times) {
  State s;
  std::string r = s.run(R"LUA(
    local n = 0
    for i = 1, 1000 do
      local ok, err = pcall(calls, function() error("cb " .. i) end)
      assert(not ok and err:find("cb " .. i, 1, true) and err:find("stack traceback:", 1, true), err)
      assert(err:find("[C++] t.calls", 1, true), err)
      -- nested: Lua -> C++ -> Lua -> C++ exception -> C++ -> Lua
      local ok2, err2 = pcall(calls, function() return throws("inner " .. i) end)
      assert(not ok2 and err2:find("inner " .. i, 1, true), err2)
      assert(calls(function() return i end) == i)
      n = n + 1
    end
    return tostring(n))LUA");
  BOOST_TEST(r == "1000");
  BOOST_TEST(g_live == 0);
}

BOOST_AUTO_TEST_CASE(uncaught_error_gets_traceback_naming_native_frame) {
  State s;
  std::string r = s.run("local function f() throws('top') end f()");
  BOOST_TEST(r.find("error: [string \"local function f() throws('top') end f()\"]:1: t.throws: top") == 0);
  BOOST_TEST(r.find("[C++] t.throws") != std::string::npos);
  BOOST_TEST(g_live == 0);
}
