// The single Lua debug hook fthost installs. It serves two masters: Ctrl-C (raise "interrupted" at the
// next instruction) and the sandbox (stop code that exceeds its wall-clock or instruction budget, with
// a kill that pcall cannot swallow). LuaJIT runs no hooks inside compiled traces, so sandboxed and
// REPL-typed code runs with the JIT off for its functions.
#pragma once

#include <lua.hpp>

#include <cstdint>
#include <string>

namespace ft::runtime {

// Called from the SIGINT handler (async-signal-safe).
void hook_signal_interrupt(lua_State* L) noexcept;
// Drops a pending Ctrl-C (the REPL calls this before and after each evaluation).
void clear_pending_interrupt(lua_State* L);
// Turns the JIT off (recursively) for the Lua function at idx, so hooks can stop it.
void jit_off_function(lua_State* L, int idx);

struct SandboxLimits {
  double timeout_ms = 1000;           // wall-clock budget per call
  double max_instructions = 0;        // 0 = unlimited (the wall clock still applies)
  std::string name = "sandboxed code";
};
// Calls the function at stack index `base` with the `nargs` values above it under the limits. On
// success leaves all results on the stack and returns their count. On failure returns -1 with the error
// message on top (the original message with traceback, or the budget message); the caller raises it.
int sandbox_call(lua_State* L, int base, int nargs, const SandboxLimits& limits);
// True while the innermost sandbox call has been killed (used by the sandbox's pcall wrapper).
bool sandbox_killed();

}  // namespace ft::runtime
