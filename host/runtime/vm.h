// The Lua VM fthost runs recipes in: LuaJIT with the standard libraries, the embedded stdlib found by
// `require` (FTHOST_PATH overrides it for development), native modules in package.preload, Ctrl-C
// handling, and the budget hook the sandbox uses.
#pragma once

#include <lua.hpp>

#include <string>
#include <vector>

namespace ft::runtime {

class Vm {
 public:
  Vm();
  ~Vm();
  Vm(const Vm&) = delete;
  Vm& operator=(const Vm&) = delete;

  lua_State* state() const { return L_; }

  // Sets the global `arg` table (arg[0] = script, arg[-1] = program, arg[1..] = args) and adds the
  // script's folder to package.path so recipes can require their helpers.
  void set_args(const std::string& program, const std::string& script, const std::vector<std::string>& args);
  // Loads and runs a chunk; on error prints "where: message" + traceback to stderr and returns false.
  bool run_file(const std::string& path);
  bool run_string(const std::string& code, const std::string& chunkname);
  // Runs require(module).main(args) for a subcommand; returns the process exit code.
  int run_command(const std::string& name, const std::vector<std::string>& args);
  // Calls the function on top of the stack with the traceback handler; prints errors. Returns false on error.
  bool pcall_print(int nargs, int nresults);
  // True when the last failed call ended because of Ctrl-C.
  bool last_error_was_interrupt() const { return last_interrupt_; }

 private:
  lua_State* L_;
  bool last_interrupt_ = false;
};

// SIGINT handling: while a computation runs, Ctrl-C makes the next Lua instruction (or the next native
// check point) raise "interrupted". A third Ctrl-C before that happens exits the process (130).
void install_interrupt_handler(lua_State* L);
// Forgets earlier Ctrl-C presses (the REPL calls this at each prompt).
void reset_interrupt_count();

// Version strings for --version.
std::string version_report();

}  // namespace ft::runtime
