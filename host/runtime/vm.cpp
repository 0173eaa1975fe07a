#include "runtime/vm.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/interrupt.h"
#include "lua_util.h"
#include "runtime/hooks.h"
#include "runtime/stdlib.h"

namespace ft::runtime {
namespace {

const EmbeddedModule* find_embedded(const std::string& name) {
  for (const EmbeddedModule* m = kEmbeddedModules; m->module; ++m)
    if (name == m->module) return m;
  return nullptr;
}

bool file_readable(const std::string& path) {
  std::ifstream f(path);
  return f.good();
}

// package.loaders searcher: FTHOST_PATH (a folder holding ft/...) first, then the embedded stdlib.
int stdlib_searcher(lua_State* L) {
  size_t n = 0;
  const char* cname = luaL_checklstring(L, 1, &n);
  std::string name(cname, n);
  std::string rel = name;
  for (char& c : rel)
    if (c == '.') c = '/';
  std::string tried;
  if (const char* dev = std::getenv("FTHOST_PATH"); dev && *dev) {
    for (const std::string& cand : {std::string(dev) + "/" + rel + ".lua", std::string(dev) + "/" + rel + "/init.lua"}) {
      if (file_readable(cand)) {
        if (luaL_loadfile(L, cand.c_str()) != 0) return lua_error(L);
        return 1;
      }
      tried += "\n\tno file '" + cand + "' (FTHOST_PATH)";
    }
  }
  if (const EmbeddedModule* m = find_embedded(name)) {
    std::string chunk = std::string("@stdlib/") + m->path;
    if (luaL_loadbuffer(L, m->source, m->size, chunk.c_str()) != 0) return lua_error(L);
    return 1;
  }
  tried += "\n\tno embedded module '" + name + "'";
  lua_pushlstring(L, tried.data(), tried.size());
  return 1;
}

lua_State* g_signal_state = nullptr;
std::atomic<int> g_sigint_count{0};

void on_sigint(int) {
  int n = g_sigint_count.fetch_add(1) + 1;
  if (n >= 3) {
    const char msg[] = "\nfthost: interrupted three times without a response; exiting\n";
    ssize_t w = ::write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(130);
  }
  ft::request_interrupt();
  if (g_signal_state) hook_signal_interrupt(g_signal_state);
}

}  // namespace

void install_interrupt_handler(lua_State* L) {
  g_signal_state = L;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocking read returns EINTR so the REPL sees Ctrl-C
  sigaction(SIGINT, &sa, nullptr);
}

void reset_interrupt_count() { g_sigint_count.store(0); }

Vm::Vm() : L_(luaL_newstate()) {
  if (!L_) throw std::runtime_error("fthost: cannot create the Lua state (out of memory)");
  luaL_openlibs(L_);
  // Insert our searcher right after package.preload's (position 2 of package.loaders).
  lua_getglobal(L_, "package");
  lua_getfield(L_, -1, "loaders");
  int nloaders = static_cast<int>(lua_objlen(L_, -1));
  for (int i = nloaders; i >= 2; --i) {
    lua_rawgeti(L_, -1, i);
    lua_rawseti(L_, -2, i + 1);
  }
  lua_pushcfunction(L_, stdlib_searcher);
  lua_rawseti(L_, -2, 2);
  lua_pop(L_, 2);
  ft::lua::register_preloads(L_);
}

Vm::~Vm() {
  if (g_signal_state == L_) g_signal_state = nullptr;
  lua_close(L_);
}

void Vm::set_args(const std::string& program, const std::string& script, const std::vector<std::string>& args) {
  lua_createtable(L_, static_cast<int>(args.size()), 2);
  lua_pushstring(L_, program.c_str());
  lua_rawseti(L_, -2, -1);
  lua_pushstring(L_, script.c_str());
  lua_rawseti(L_, -2, 0);
  for (size_t i = 0; i < args.size(); ++i) {
    lua_pushlstring(L_, args[i].data(), args[i].size());
    lua_rawseti(L_, -2, static_cast<int>(i + 1));
  }
  lua_setglobal(L_, "arg");
  if (!script.empty()) {
    std::string dir = ".";
    if (auto slash = script.find_last_of('/'); slash != std::string::npos) dir = script.substr(0, slash);
    if (dir.empty()) dir = "/";
    lua_getglobal(L_, "package");
    lua_getfield(L_, -1, "path");
    std::string path = dir + "/?.lua;" + dir + "/?/init.lua;" + lua_tostring(L_, -1);
    lua_pop(L_, 1);
    lua_pushstring(L_, path.c_str());
    lua_setfield(L_, -2, "path");
    lua_pop(L_, 1);
  }
}

bool Vm::pcall_print(int nargs, int nresults) {
  int base = lua_gettop(L_) - nargs;
  lua_pushcfunction(L_, &ft::lua::traceback_handler);
  lua_insert(L_, base);
  int rc = lua_pcall(L_, nargs, nresults, base);
  lua_remove(L_, base);
  last_interrupt_ = false;
  if (rc == 0) return true;
  const char* msg = lua_tostring(L_, -1);
  std::string text = msg ? msg : "(error object is not a string)";
  std::string first = text.substr(0, text.find('\n'));
  last_interrupt_ = first.size() >= 11 && first.compare(first.size() - 11, 11, "interrupted") == 0;
  std::cerr << text << std::endl;
  lua_pop(L_, 1);
  return false;
}

bool Vm::run_file(const std::string& path) {
  if (luaL_loadfile(L_, path.c_str()) != 0) {
    std::cerr << lua_tostring(L_, -1) << std::endl;
    lua_pop(L_, 1);
    return false;
  }
  return pcall_print(0, 0);
}

bool Vm::run_string(const std::string& code, const std::string& chunkname) {
  if (luaL_loadbuffer(L_, code.data(), code.size(), chunkname.c_str()) != 0) {
    std::cerr << lua_tostring(L_, -1) << std::endl;
    lua_pop(L_, 1);
    return false;
  }
  return pcall_print(0, 0);
}

int Vm::run_command(const std::string& name, const std::vector<std::string>& args) {
  // ft.cli (stdlib/ft/cli/init.lua) resolves the command module, parses its options and runs it.
  lua_getglobal(L_, "require");
  lua_pushstring(L_, "ft.cli");
  if (!pcall_print(1, 1)) return 1;
  lua_getfield(L_, -1, "run");
  lua_remove(L_, -2);
  lua_pushstring(L_, name.c_str());
  lua_createtable(L_, static_cast<int>(args.size()), 0);
  for (size_t i = 0; i < args.size(); ++i) {
    lua_pushlstring(L_, args[i].data(), args[i].size());
    lua_rawseti(L_, -2, static_cast<int>(i + 1));
  }
  if (!pcall_print(2, 1)) return last_interrupt_ ? 130 : 1;
  int code = lua_isnumber(L_, -1) ? static_cast<int>(lua_tointeger(L_, -1)) : 0;
  lua_pop(L_, 1);
  return code;
}

}  // namespace ft::runtime
