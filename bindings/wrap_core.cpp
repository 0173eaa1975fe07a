// _ft.core: process-wide settings (seed, threads), terminal queries for progress displays, and the two
// crossing helpers the error-path tests use (a C++ exception raised into Lua, and a Lua function called
// from C++).
#include <torch/torch.h>

#include <random>

#include "core/error.h"
#include "core/terminal.h"
#include "lua_util.h"

namespace ft::lua {
namespace {

// seed(n): seeds LibTorch's generators (CPU and CUDA) so init, dropout and sampling repeat.
int w_seed(lua_State* L) {
  int64_t n = check_integer(L, 1);
  torch::manual_seed(static_cast<uint64_t>(n));
  return 0;
}

int w_threads(lua_State* L) {
  if (!is_none_or_nil(L, 1)) {
    int64_t n = check_integer(L, 1);
    if (n < 1) throw ArgError(1, "a thread count >= 1 expected, got " + std::to_string(n));
    torch::set_num_threads(static_cast<int>(n));
  }
  lua_pushinteger(L, torch::get_num_threads());
  return 1;
}

// terminal(fd = 1) -> is_tty, columns
int w_terminal(lua_State* L) {
  const int fd = static_cast<int>(opt_integer(L, 1, 1));
  lua_pushboolean(L, ft::is_terminal(fd));
  lua_pushinteger(L, ft::terminal_columns(fd));
  return 2;
}

int w_gc_live_bytes(lua_State* L) {
  lua_pushnumber(L, static_cast<double>(gc_live_bytes()));
  return 1;
}

// test_throw(message, hint): throws ft::Error from native code.
int w_test_throw(lua_State* L) {
  std::string msg = check_string(L, 1);
  std::string hint = opt_string(L, 2, "");
  throw ft::Error(msg, hint);
}

// test_call(fn, ...): calls fn from C++ through ft::lua::call; a Lua error becomes a LuaError (C++),
// which this binding lets propagate back into Lua. Returns fn's results.
int w_test_call(lua_State* L) {
  check_function(L, 1);
  int nargs = lua_gettop(L) - 1;
  std::string guard = "a C++ object alive across the call";  // must be destroyed on the error path
  call(L, nargs, LUA_MULTRET);
  (void)guard;
  return lua_gettop(L);
}

const Reg kCore[] = {{"seed", w_seed},
                     {"threads", w_threads},
                     {"terminal", w_terminal},
                     {"gc_live_bytes", w_gc_live_bytes},
                     {"test_throw", w_test_throw},
                     {"test_call", w_test_call},
                     {nullptr, nullptr}};

int open_core(lua_State* L) {
  new_lib(L, "ft", kCore);
  return 1;
}

}  // namespace
}  // namespace ft::lua

FT_LUA_MODULE("_ft.core", ft::lua::open_core);
