#include "runtime/repl.h"

#include <editline/readline.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "core/interrupt.h"
#include "runtime/hooks.h"
#include "runtime/vm.h"

namespace ft::runtime {
namespace {

enum class Compiled { ok, incomplete, error };

// Compiles `code` as an expression (so `1+1` prints 2) or else as a statement list. On ok the function
// is on the stack; on error the message is.
Compiled compile_chunk(lua_State* L, const std::string& code) {
  // The identity call keeps `code` out of tail position, so `error("x")` still reports "stdin:1:".
  std::string expr = "return (function(...) return ... end)(" + code + "\n)";
  if (luaL_loadbuffer(L, expr.data(), expr.size(), "=stdin") == 0) return Compiled::ok;
  lua_pop(L, 1);
  if (luaL_loadbuffer(L, code.data(), code.size(), "=stdin") == 0) return Compiled::ok;
  size_t n = 0;
  const char* msg = lua_tolstring(L, -1, &n);
  const char eof_mark[] = "'<eof>'";
  size_t m = sizeof eof_mark - 1;
  if (msg && n >= m && std::strcmp(msg + n - m, eof_mark) == 0) {
    lua_pop(L, 1);
    return Compiled::incomplete;
  }
  return Compiled::error;
}

class LineReader {
 public:
  LineReader() : tty_(isatty(0) && isatty(1)) {
    if (const char* home = std::getenv("HOME"); home && *home) history_ = std::string(home) + "/.fthost_history";
    if (tty_) {
      using_history();
      if (!history_.empty()) read_history(history_.c_str());
    }
  }
  // Returns false at end of input. `interrupted` is set when Ctrl-C ended the read.
  bool read(const char* prompt, std::string& line, bool& interrupted) {
    interrupted = false;
    if (!tty_) {
      if (!std::getline(std::cin, line)) return false;
      return true;
    }
    errno = 0;
    char* s = readline(prompt);
    if (!s) {
      if (ft::interrupt_requested() || errno == EINTR) {
        interrupted = true;
        return true;
      }
      return false;
    }
    line = s;
    std::free(s);
    return true;
  }
  void remember(const std::string& entry) {
    if (!tty_ || entry.empty()) return;
    add_history(entry.c_str());
    if (!history_.empty()) write_history(history_.c_str());
  }
  bool tty() const { return tty_; }

 private:
  bool tty_;
  std::string history_;
};

// Prints the values left on the stack above `base` with ft.repl.show (pretty tables and tensors).
void show_results(Vm& vm, int base) {
  lua_State* L = vm.state();
  int n = lua_gettop(L) - base;
  if (n <= 0) return;
  lua_getglobal(L, "require");
  lua_pushstring(L, "ft.repl");
  if (!vm.pcall_print(1, 1)) return;
  lua_getfield(L, -1, "show");
  lua_remove(L, -2);
  lua_insert(L, base + 1);
  vm.pcall_print(n, 0);
}

}  // namespace

int run_repl(Vm& vm) {
  lua_State* L = vm.state();
  LineReader reader;
  if (reader.tty())
    std::printf("%s", "fthost REPL: Lua expressions print their value; Ctrl-C stops a computation, Ctrl-D exits.\n");
  std::string line;
  bool interrupted = false;
  for (;;) {
    reset_interrupt_count();
    clear_pending_interrupt(L);
    std::fflush(stdout);
    if (!reader.read("> ", line, interrupted)) break;
    if (interrupted) {
      std::printf("\n");
      continue;
    }
    if (line.empty()) continue;
    std::string chunk = line;
    Compiled c;
    bool cancelled = false;
    while ((c = compile_chunk(L, chunk)) == Compiled::incomplete) {
      std::string more;
      if (!reader.read(">> ", more, interrupted) || interrupted) {
        cancelled = true;
        break;
      }
      chunk += "\n" + more;
    }
    reader.remember(chunk);
    if (cancelled) {
      std::printf("\n");
      if (!interrupted) break;  // end of input inside an unfinished chunk
      continue;
    }
    if (c == Compiled::error) {
      std::fprintf(stderr, "%s\n", lua_tostring(L, -1));
      lua_pop(L, 1);
      continue;
    }
    // Typed code runs in the interpreter so Ctrl-C (a debug hook) can always stop it.
    jit_off_function(L, -1);
    int base = lua_gettop(L) - 1;
    clear_pending_interrupt(L);
    if (vm.pcall_print(0, LUA_MULTRET)) show_results(vm, base);
    clear_pending_interrupt(L);
    lua_settop(L, base);
  }
  if (reader.tty()) std::printf("\n");
  return 0;
}

}  // namespace ft::runtime
