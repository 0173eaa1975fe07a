// _ft.runtime: what the Lua side needs to know about the host itself: versions, the embedded modules
// (for `fthost --help` to list commands), and Ctrl-C state for native-loop tests.
#include <string>

#include "core/interrupt.h"
#include "lua_util.h"
#include "runtime/stdlib.h"
#include "runtime/vm.h"

namespace ft::runtime {
namespace {

int l_version_report(lua_State* L) {
  std::string v = version_report();
  lua_pushlstring(L, v.data(), v.size());
  return 1;
}

int l_embedded_modules(lua_State* L) {
  lua_newtable(L);
  int n = 0;
  for (const EmbeddedModule* m = kEmbeddedModules; m->module; ++m) {
    lua_pushstring(L, m->module);
    lua_rawseti(L, -2, ++n);
  }
  return 1;
}

// Spins in native code for up to `ms` milliseconds, checking for Ctrl-C every millisecond the way long
// native calls do; returns true if it ran to the end. Used by the REPL tests and as an example.
int l_native_spin(lua_State* L) {
  double ms = luaL_checknumber(L, 1);
  bool done = true;
  {
    ft::clear_interrupt();
    for (double t = 0; t < ms; t += 1) {
      if (ft::interrupt_requested()) {
        done = false;
        break;
      }
      struct timespec ts = {0, 1000000};
      nanosleep(&ts, nullptr);
    }
  }
  if (!done) {
    ft::clear_interrupt();
    return luaL_error(L, "interrupted");
  }
  lua_pushboolean(L, 1);
  return 1;
}

int open_runtime(lua_State* L) {
  const luaL_Reg fns[] = {{"version_report", l_version_report},
                          {"embedded_modules", l_embedded_modules},
                          {"native_spin", l_native_spin},
                          {nullptr, nullptr}};
  lua_newtable(L);
  luaL_register(L, nullptr, fns);
  return 1;
}

}  // namespace
}  // namespace ft::runtime

FT_LUA_MODULE("_ft.runtime", ft::runtime::open_runtime);
