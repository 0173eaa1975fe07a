#include "runtime/hooks.h"

#include <time.h>

#include <atomic>
#include <cstdio>
#include <vector>

#include "core/interrupt.h"
#include "lua_util.h"

namespace ft::runtime {
namespace {

constexpr int kCountStep = 1000;  // instructions between budget checks

struct SandboxFrame {
  double deadline_s = 0;
  double max_instructions = 0;
  double executed = 0;
  double timeout_ms = 0;
  bool killed = false;
  std::string name;
  std::string kill_message;
};

std::vector<SandboxFrame> g_frames;  // innermost last

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
}

void master_hook(lua_State* L, lua_Debug* ar);

// The hook that should be active when no interrupt is pending.
void set_normal_hook(lua_State* L) {
  if (g_frames.empty()) {
    lua_sethook(L, nullptr, 0, 0);
  } else if (g_frames.back().killed) {
    // Fire on every line and instruction so an enclosing pcall cannot run code after the kill.
    lua_sethook(L, master_hook, LUA_MASKLINE | LUA_MASKCOUNT, 1);
  } else {
    lua_sethook(L, master_hook, LUA_MASKCOUNT, kCountStep);
  }
}

void raise_from_hook(lua_State* L, const std::string& msg) {
  lua_pushlstring(L, msg.data(), msg.size());
  lua_error(L);
}

void master_hook(lua_State* L, lua_Debug* ar) {
  // The interrupt flag is shared with native check points: whoever sees it first consumes it, so an
  // interrupt that a native call already turned into an error is not raised a second time here.
  if (ft::interrupt_requested()) {
    ft::clear_interrupt();
    set_normal_hook(L);
    luaL_where(L, 0);
    lua_pushstring(L, "interrupted");
    lua_concat(L, 2);
    lua_error(L);
  }
  if (g_frames.empty()) {
    lua_sethook(L, nullptr, 0, 0);
    return;
  }
  SandboxFrame& f = g_frames.back();
  if (f.killed) raise_from_hook(L, f.kill_message);
  if (ar->event != LUA_HOOKCOUNT) return;
  f.executed += kCountStep;
  bool over_time = now_s() > f.deadline_s;
  bool over_count = f.max_instructions > 0 && f.executed > f.max_instructions;
  if (over_time || over_count) {
    f.killed = true;
    char buf[160];
    if (over_time)
      std::snprintf(buf, sizeof buf, "exceeded its time limit of %g ms", f.timeout_ms);
    else
      std::snprintf(buf, sizeof buf, "exceeded its budget of %.0f instructions", f.max_instructions);
    f.kill_message = "sandbox: " + f.name + " " + buf;
    set_normal_hook(L);
    raise_from_hook(L, f.kill_message);
  }
}

}  // namespace

void hook_signal_interrupt(lua_State* L) noexcept {
  // lua_sethook is the documented signal-safe way to get the VM's attention (as lua.c does).
  lua_sethook(L, master_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

void jit_off_function(lua_State* L, int idx) {
  idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
  if (lua_type(L, idx) != LUA_TFUNCTION || lua_iscfunction(L, idx)) return;
  lua_getglobal(L, "jit");
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    return;
  }
  // jit.flush(f, true) drops traces already compiled for f and its children; jit.off(f, true) stops new ones.
  for (const char* what : {"flush", "off"}) {
    lua_getfield(L, -1, what);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_call(L, 2, 0);
  }
  lua_pop(L, 1);
}

void clear_pending_interrupt(lua_State* L) {
  ft::clear_interrupt();
  set_normal_hook(L);
}

bool sandbox_killed() { return !g_frames.empty() && g_frames.back().killed; }

int sandbox_call(lua_State* L, int base, int nargs, const SandboxLimits& limits) {
  jit_off_function(L, base);
  lua_Hook old_hook = lua_gethook(L);
  int old_mask = lua_gethookmask(L);
  int old_count = lua_gethookcount(L);
  {
    SandboxFrame f;
    f.deadline_s = now_s() + limits.timeout_ms / 1000.0;
    f.timeout_ms = limits.timeout_ms;
    f.max_instructions = limits.max_instructions;
    f.name = limits.name;
    g_frames.push_back(std::move(f));
  }
  set_normal_hook(L);
  lua_pushcfunction(L, &ft::lua::traceback_handler);
  lua_insert(L, base);
  int rc = lua_pcall(L, nargs, LUA_MULTRET, base);
  lua_remove(L, base);
  bool killed = g_frames.back().killed;
  std::string kill_message = g_frames.back().kill_message;
  g_frames.pop_back();
  if (old_hook == master_hook || old_hook == nullptr)
    set_normal_hook(L);
  else
    lua_sethook(L, old_hook, old_mask, old_count);
  if (killed) {
    lua_settop(L, base - 1);
    lua_pushlstring(L, kill_message.data(), kill_message.size());
    return -1;
  }
  if (rc != 0) return -1;  // error message (with traceback) on top
  return lua_gettop(L) - base + 1;
}

}  // namespace ft::runtime
