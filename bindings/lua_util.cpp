// Implementation of the binding helper: the exception-safe trampoline, module registry, argument checks,
// userdata metatables, GC pressure accounting, and tracebacks that name native frames.
#include "lua_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>

namespace ft::lua {
namespace {

// ---- the trampoline ----------------------------------------------------------------------------
// Upvalue 1: the NativeFn (as light userdata), upvalue 2: its qualified name.
int trampoline(lua_State* L) {
  auto fn = reinterpret_cast<NativeFn>(lua_touserdata(L, lua_upvalueindex(1)));
  // Exactly one of these catch blocks pushes the message; lua_error runs after every C++ object in
  // this frame is gone. Lua errors raised below (a foreign exception) are not caught here.
  try {
    return fn(L);
  } catch (const ArgError& e) {
    const char* name = lua_tostring(L, lua_upvalueindex(2));
    luaL_where(L, 1);
    lua_pushfstring(L, "bad argument #%d to '%s' (%s)", e.arg(), name, e.what());
    lua_concat(L, 2);
  } catch (const LuaError& e) {
    lua_pushstring(L, e.what());  // already located and carrying the inner traceback
  } catch (const std::exception& e) {
    const char* name = lua_tostring(L, lua_upvalueindex(2));
    const char* what = e.what();
    luaL_where(L, 1);
    if (std::strncmp(what, name, std::strlen(name)) == 0)
      lua_pushstring(L, what);
    else
      lua_pushfstring(L, "%s: %s", name, what);
    lua_concat(L, 2);
  }
  return lua_error(L);
}

struct ModuleEntry {
  const char* name;
  lua_CFunction open;
};
std::vector<ModuleEntry>& module_table() {
  static std::vector<ModuleEntry> t;
  return t;
}

// GC pressure state (one process-wide Lua heap matters: fthost runs one main state).
constexpr size_t kMinGcThreshold = size_t(256) << 20;
std::mutex g_gc_mu;
size_t g_live_bytes = 0;
size_t g_threshold = kMinGcThreshold;
bool g_collecting = false;

std::string describe_number_error(lua_State* L, int idx, const char* want) {
  return std::string(want) + " expected, got " + type_name(L, idx);
}

}  // namespace

// ---- functions and modules ---------------------------------------------------------------------
void push_native(lua_State* L, const char* qualified_name, NativeFn fn) {
  lua_pushlightuserdata(L, reinterpret_cast<void*>(fn));
  lua_pushstring(L, qualified_name);
  lua_pushcclosure(L, &trampoline, 2);
}

void set_funcs(lua_State* L, const char* prefix, const Reg* regs) {
  for (; regs && regs->name; ++regs) {
    std::string q = std::string(prefix) + "." + regs->name;
    push_native(L, q.c_str(), regs->fn);
    lua_setfield(L, -2, regs->name);
  }
}

void new_lib(lua_State* L, const char* prefix, const Reg* regs) {
  lua_newtable(L);
  set_funcs(L, prefix, regs);
}

ModuleRegistrar::ModuleRegistrar(const char* name, lua_CFunction open) { module_table().push_back({name, open}); }

void register_preloads(lua_State* L) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  for (const auto& m : module_table()) {
    lua_pushcfunction(L, m.open);
    lua_setfield(L, -2, m.name);
  }
  lua_pop(L, 2);
}

std::vector<std::string> registered_modules() {
  std::vector<std::string> out;
  for (const auto& m : module_table()) out.emplace_back(m.name);
  std::sort(out.begin(), out.end());
  return out;
}

// ---- arguments ---------------------------------------------------------------------------------
std::string type_name(lua_State* L, int idx) {
  if (lua_type(L, idx) == LUA_TUSERDATA && lua_getmetatable(L, idx)) {
    lua_getfield(L, -1, "__name");
    std::string n = lua_isstring(L, -1) ? lua_tostring(L, -1) : "userdata";
    lua_pop(L, 2);
    return n;
  }
  return luaL_typename(L, idx);
}

bool is_none_or_nil(lua_State* L, int idx) { return lua_isnoneornil(L, idx); }

double check_number(lua_State* L, int idx) {
  if (lua_type(L, idx) != LUA_TNUMBER) throw ArgError(idx, describe_number_error(L, idx, "number"));
  return lua_tonumber(L, idx);
}

int64_t check_integer(lua_State* L, int idx) {
  double d = check_number(L, idx);
  if (d != std::floor(d) || !std::isfinite(d) || std::fabs(d) > 9007199254740992.0)
    throw ArgError(idx, "integer expected, got non-integer number " + std::to_string(d));
  return static_cast<int64_t>(d);
}

std::string check_string(lua_State* L, int idx) {
  if (lua_type(L, idx) != LUA_TSTRING) throw ArgError(idx, describe_number_error(L, idx, "string"));
  size_t n = 0;
  const char* s = lua_tolstring(L, idx, &n);
  return std::string(s, n);
}

bool check_boolean(lua_State* L, int idx) {
  if (lua_type(L, idx) != LUA_TBOOLEAN) throw ArgError(idx, describe_number_error(L, idx, "boolean"));
  return lua_toboolean(L, idx) != 0;
}

void check_table(lua_State* L, int idx) {
  if (lua_type(L, idx) != LUA_TTABLE) throw ArgError(idx, describe_number_error(L, idx, "table"));
}

void check_function(lua_State* L, int idx) {
  if (lua_type(L, idx) != LUA_TFUNCTION) throw ArgError(idx, describe_number_error(L, idx, "function"));
}

double opt_number(lua_State* L, int idx, double dflt) {
  return lua_isnoneornil(L, idx) ? dflt : check_number(L, idx);
}
int64_t opt_integer(lua_State* L, int idx, int64_t dflt) {
  return lua_isnoneornil(L, idx) ? dflt : check_integer(L, idx);
}
std::string opt_string(lua_State* L, int idx, const std::string& dflt) {
  return lua_isnoneornil(L, idx) ? dflt : check_string(L, idx);
}
bool opt_boolean(lua_State* L, int idx, bool dflt) {
  return lua_isnoneornil(L, idx) ? dflt : check_boolean(L, idx);
}

namespace {
// Pushes t[key] for the table at idx (idx must be absolute or positive).
int push_field(lua_State* L, int idx, const char* key) {
  lua_getfield(L, idx, key);
  return lua_type(L, -1);
}
[[noreturn]] void field_error(lua_State* L, int idx, const char* key, const char* want) {
  std::string got = type_name(L, -1);
  lua_pop(L, 1);
  throw ArgError(idx, std::string("field '") + key + "': " + want + " expected, got " + got);
}
}  // namespace

bool has_field(lua_State* L, int idx, const char* key) {
  if (lua_type(L, idx) != LUA_TTABLE) return false;
  bool has = push_field(L, idx, key) != LUA_TNIL;
  lua_pop(L, 1);
  return has;
}

std::string field_string(lua_State* L, int idx, const char* key, const std::string& dflt) {
  if (lua_type(L, idx) != LUA_TTABLE) return dflt;
  int t = push_field(L, idx, key);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return dflt;
  }
  if (t != LUA_TSTRING) field_error(L, idx, key, "string");
  size_t n = 0;
  const char* s = lua_tolstring(L, -1, &n);
  std::string out(s, n);
  lua_pop(L, 1);
  return out;
}

double field_number(lua_State* L, int idx, const char* key, double dflt) {
  if (lua_type(L, idx) != LUA_TTABLE) return dflt;
  int t = push_field(L, idx, key);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return dflt;
  }
  if (t != LUA_TNUMBER) field_error(L, idx, key, "number");
  double d = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return d;
}

int64_t field_integer(lua_State* L, int idx, const char* key, int64_t dflt) {
  if (lua_type(L, idx) != LUA_TTABLE) return dflt;
  int t = push_field(L, idx, key);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return dflt;
  }
  if (t != LUA_TNUMBER) field_error(L, idx, key, "integer");
  double d = lua_tonumber(L, -1);
  if (d != std::floor(d)) field_error(L, idx, key, "integer");
  lua_pop(L, 1);
  return static_cast<int64_t>(d);
}

bool field_boolean(lua_State* L, int idx, const char* key, bool dflt) {
  if (lua_type(L, idx) != LUA_TTABLE) return dflt;
  int t = push_field(L, idx, key);
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return dflt;
  }
  if (t != LUA_TBOOLEAN) field_error(L, idx, key, "boolean");
  bool b = lua_toboolean(L, -1) != 0;
  lua_pop(L, 1);
  return b;
}

std::vector<std::string> field_string_list(lua_State* L, int idx, const char* key) {
  std::vector<std::string> out;
  if (lua_type(L, idx) != LUA_TTABLE) return out;
  lua_getfield(L, idx, key);
  if (lua_istable(L, -1)) {
    size_t n = lua_objlen(L, -1);
    for (size_t i = 1; i <= n; ++i) {
      lua_rawgeti(L, -1, static_cast<int>(i));
      if (!lua_isstring(L, -1)) {
        lua_pop(L, 2);
        throw ArgError(idx, std::string("field '") + key + "' must be a list of strings");
      }
      out.emplace_back(lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  } else if (lua_isstring(L, -1)) {
    out.emplace_back(lua_tostring(L, -1));
  } else if (!lua_isnil(L, -1)) {
    std::string got = type_name(L, -1);
    lua_pop(L, 1);
    throw ArgError(idx, std::string("field '") + key + "': string or list of strings expected, got " + got);
  }
  lua_pop(L, 1);
  return out;
}

// ---- userdata ----------------------------------------------------------------------------------
bool is_type(lua_State* L, int idx, const char* reg) {
  if (lua_type(L, idx) != LUA_TUSERDATA || !lua_getmetatable(L, idx)) return false;
  luaL_getmetatable(L, reg);
  bool eq = lua_rawequal(L, -1, -2) != 0;
  lua_pop(L, 2);
  return eq;
}

void define_type_raw(lua_State* L, const char* type, const char* registry, const Reg* methods, lua_CFunction gc,
                     NativeFn release, NativeFn tostring) {
  luaL_newmetatable(L, registry);
  lua_pushstring(L, type);
  lua_setfield(L, -2, "__name");
  lua_pushcfunction(L, gc);
  lua_setfield(L, -2, "__gc");
  std::string prefix = type;
  push_native(L, (prefix + ".__tostring").c_str(), tostring);
  lua_setfield(L, -2, "__tostring");
  lua_newtable(L);  // methods
  set_funcs(L, type, methods);
  push_native(L, (prefix + ".release").c_str(), release);
  lua_setfield(L, -2, "release");
  lua_setfield(L, -2, "__index");
}

void gc_add_bytes(lua_State* L, size_t bytes) {
  bool collect = false;
  {
    std::lock_guard<std::mutex> lk(g_gc_mu);
    g_live_bytes += bytes;
    if (g_live_bytes > g_threshold && !g_collecting) {
      collect = true;
      g_collecting = true;
    }
  }
  if (!collect) return;
  lua_gc(L, LUA_GCCOLLECT, 0);
  std::lock_guard<std::mutex> lk(g_gc_mu);
  g_threshold = std::max(kMinGcThreshold, 2 * g_live_bytes);
  g_collecting = false;
}

void gc_sub_bytes(size_t bytes) {
  std::lock_guard<std::mutex> lk(g_gc_mu);
  g_live_bytes = bytes > g_live_bytes ? 0 : g_live_bytes - bytes;
}

size_t gc_live_bytes() {
  std::lock_guard<std::mutex> lk(g_gc_mu);
  return g_live_bytes;
}

// ---- calling Lua and tracebacks ---------------------------------------------------------------
void call(lua_State* L, int nargs, int nresults) {
  int base = lua_gettop(L) - nargs;  // index of the function
  lua_pushcfunction(L, &traceback_handler);
  lua_insert(L, base);
  int rc = lua_pcall(L, nargs, nresults, base);
  lua_remove(L, base);
  if (rc != 0) {
    std::string msg;
    if (lua_isstring(L, -1))
      msg = lua_tostring(L, -1);
    else
      msg = "(error object is a " + type_name(L, -1) + " value)";
    lua_pop(L, 1);
    throw LuaError(msg);
  }
}

std::string traceback(lua_State* L, const std::string& msg, int level) {
  std::string out = msg;
  out += "\nstack traceback:";
  lua_Debug ar;
  int shown = 0;
  for (int lv = level; lua_getstack(L, lv, &ar); ++lv) {
    if (shown == 12) {
      // Skip the middle of very deep stacks, as luaL_traceback does.
      // A failed lua_getstack overwrites ar (LuaJIT stores a level count in it), so refetch the frame.
      int last = lv;
      while (lua_getstack(L, last + 11, &ar)) last += 10;
      if (last > lv) {
        out += "\n\t...";
        lv = last;
      }
      if (!lua_getstack(L, lv, &ar)) break;
    }
    ++shown;
    lua_getinfo(L, "Slnf", &ar);
    std::string native;
    if (lua_tocfunction(L, -1) == &trampoline) {
      lua_getupvalue(L, -1, 2);
      if (lua_isstring(L, -1)) native = lua_tostring(L, -1);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);  // the function
    out += "\n\t";
    if (!native.empty()) {
      out += "[C++] " + native;
      continue;
    }
    if (std::strcmp(ar.what, "C") == 0) {
      out += "[C]: in ";
      out += ar.name ? std::string("function '") + ar.name + "'" : "?";
      continue;
    }
    out += ar.short_src;
    if (ar.currentline > 0) out += ":" + std::to_string(ar.currentline);
    out += ": in ";
    if (ar.namewhat && *ar.namewhat && ar.name)
      out += std::string("function '") + ar.name + "'";
    else if (*ar.what == 'm')
      out += "main chunk";
    else
      out += "function <" + std::string(ar.short_src) + ":" + std::to_string(ar.linedefined) + ">";
  }
  return out;
}

int traceback_handler(lua_State* L) {
  std::string msg;
  if (lua_isstring(L, 1)) {
    msg = lua_tostring(L, 1);
  } else if (luaL_callmeta(L, 1, "__tostring") && lua_isstring(L, -1)) {
    msg = lua_tostring(L, -1);
    lua_pop(L, 1);
  } else {
    msg = "(error object is a " + type_name(L, 1) + " value)";
  }
  // An error that already carries a traceback (re-raised from a nested call) keeps its own.
  if (msg.find("\nstack traceback:") != std::string::npos) {
    lua_pushstring(L, msg.c_str());
    return 1;
  }
  std::string tb = traceback(L, msg, 1);
  lua_pushlstring(L, tb.data(), tb.size());
  return 1;
}

}  // namespace ft::lua
