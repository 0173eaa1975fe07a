// The one helper every bindings/wrap_<area>.cpp uses: native functions that may throw C++ exceptions,
// typed userdata owned by shared_ptr, checked argument access, calls from C++ into Lua, and the
// traceback that names native frames ("[C++] ft.zeros").
//
// Error discipline (see ../shared/STYLE.md, LÖVE and Neovim): native code never raises a Lua error while
// C++ objects are alive. Argument checks throw ArgError; everything else throws std::exception. The
// trampoline installed by push_native() catches, pushes the message, leaves the catch block, and only
// then calls lua_error. Lua errors raised inside call() are turned into ft::lua::LuaError (a C++
// exception carrying the Lua traceback).
#pragma once

#include <lua.hpp>

#include <cstdint>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.h"

namespace ft::lua {

// A native function: reads its arguments with the check_* helpers, pushes results, returns their count.
using NativeFn = int (*)(lua_State* L);

struct Reg {
  const char* name;
  NativeFn fn;
};

// Bad argument: becomes "bad argument #N to 'ft.x' (<what>)".
class ArgError : public std::runtime_error {
 public:
  ArgError(int arg, const std::string& what) : std::runtime_error(what), arg_(arg) {}
  int arg() const { return arg_; }

 private:
  int arg_;
};

// A Lua error raised inside a callback made from C++; what() holds the message and Lua traceback.
class LuaError : public ft::Error {
 public:
  explicit LuaError(const std::string& msg) : ft::Error(msg) {}
};

// ---- functions and modules ---------------------------------------------------------------------
// Pushes `fn` wrapped in the exception-safe trampoline; `qualified_name` ("ft.zeros") is used in
// error messages and tracebacks.
void push_native(lua_State* L, const char* qualified_name, NativeFn fn);
// Sets each reg into the table on top of the stack, named "<prefix>.<name>".
void set_funcs(lua_State* L, const char* prefix, const Reg* regs);
// Pushes a new table holding the regs (a native module table).
void new_lib(lua_State* L, const char* prefix, const Reg* regs);

// Native modules register themselves at static-initialisation time and are opened lazily through
// package.preload: FT_LUA_MODULE("_ft.tensor", open_tensor) where open_tensor pushes the module table.
struct ModuleRegistrar {
  ModuleRegistrar(const char* name, lua_CFunction open);
};
#define FT_LUA_MODULE_CAT2(a, b) a##b
#define FT_LUA_MODULE_CAT(a, b) FT_LUA_MODULE_CAT2(a, b)
#define FT_LUA_MODULE(NAME, OPEN) \
  static ::ft::lua::ModuleRegistrar FT_LUA_MODULE_CAT(ft_lua_module_, __LINE__)(NAME, OPEN)
// Installs every registered module into package.preload.
void register_preloads(lua_State* L);
// Names of the registered modules (for tests and --version).
std::vector<std::string> registered_modules();

// ---- arguments (all throw ArgError; idx is the Lua stack index, 1-based) -------------------------
std::string type_name(lua_State* L, int idx);  // userdata report their fthost type ("Tensor")
double check_number(lua_State* L, int idx);
int64_t check_integer(lua_State* L, int idx);
std::string check_string(lua_State* L, int idx);
bool check_boolean(lua_State* L, int idx);
void check_table(lua_State* L, int idx);
void check_function(lua_State* L, int idx);
double opt_number(lua_State* L, int idx, double dflt);
int64_t opt_integer(lua_State* L, int idx, int64_t dflt);
std::string opt_string(lua_State* L, int idx, const std::string& dflt);
bool opt_boolean(lua_State* L, int idx, bool dflt);
bool is_none_or_nil(lua_State* L, int idx);
// Table fields (table at idx). "field" errors name the field: "bad argument #2 (field 'dtype': string expected)".
bool has_field(lua_State* L, int idx, const char* key);
std::string field_string(lua_State* L, int idx, const char* key, const std::string& dflt);
double field_number(lua_State* L, int idx, const char* key, double dflt);
int64_t field_integer(lua_State* L, int idx, const char* key, int64_t dflt);
bool field_boolean(lua_State* L, int idx, const char* key, bool dflt);
// A field holding a string or a list of strings ({} when absent).
std::vector<std::string> field_string_list(lua_State* L, int idx, const char* key);

// ---- userdata: shared_ptr-owned objects, one metatable per type ---------------------------------
// Specialise with FT_LUA_DECLARE_TYPE(T, "Name") in a header; the metatable is registry["ft.Name"].
template <class T>
struct TypeName;
#define FT_LUA_DECLARE_TYPE(T, NAME)                 \
  namespace ft::lua {                                \
  template <>                                        \
  struct TypeName<T> {                               \
    static constexpr const char* value = NAME;       \
    static constexpr const char* registry = "ft." NAME; \
  };                                                 \
  }

template <class T>
struct Box {
  std::shared_ptr<T> ptr;
  size_t reported_bytes = 0;  // memory this object told the GC about
};

// GC pressure: large native objects (tensors) report their bytes so Lua collects garbage ones before
// memory runs out. A full collection runs when live reported bytes pass a threshold that adapts to
// what survives (2x the live bytes after the last collection, at least 256 MiB).
void gc_add_bytes(lua_State* L, size_t bytes);
void gc_sub_bytes(size_t bytes);
size_t gc_live_bytes();

// True when the value at idx is a userdata whose metatable is registry[reg].
bool is_type(lua_State* L, int idx, const char* reg);

template <class T>
void push_object(lua_State* L, std::shared_ptr<T> p, size_t bytes = 0) {
  if (!p) {
    lua_pushnil(L);
    return;
  }
  void* mem = lua_newuserdata(L, sizeof(Box<T>));
  auto* box = new (mem) Box<T>{std::move(p), bytes};
  (void)box;
  luaL_getmetatable(L, TypeName<T>::registry);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 2);
    throw std::logic_error(std::string("fthost: type ") + TypeName<T>::value + " used before define_type");
  }
  lua_setmetatable(L, -2);
  if (bytes) gc_add_bytes(L, bytes);
}

// Returns the box at idx or throws ArgError ("Tensor expected, got string").
template <class T>
Box<T>* check_box(lua_State* L, int idx) {
  if (!is_type(L, idx, TypeName<T>::registry))
    throw ArgError(idx, std::string(TypeName<T>::value) + " expected, got " + type_name(L, idx));
  return static_cast<Box<T>*>(lua_touserdata(L, idx));
}

// The live object at idx; throws ArgError when the wrong type or already released.
template <class T>
const std::shared_ptr<T>& check_object(lua_State* L, int idx) {
  Box<T>* box = check_box<T>(L, idx);
  if (!box->ptr)
    throw ArgError(idx, std::string(TypeName<T>::value) + " was released (obj:release() was called on it)");
  return box->ptr;
}
template <class T>
T& check_ref(lua_State* L, int idx) {
  return *check_object<T>(L, idx);
}

template <class T>
int box_gc(lua_State* L) {
  auto* box = static_cast<Box<T>*>(lua_touserdata(L, 1));
  if (box) {
    gc_sub_bytes(box->reported_bytes);
    box->~Box<T>();
  }
  return 0;
}
template <class T>
int box_release(lua_State* L) {
  Box<T>* box = check_box<T>(L, 1);
  gc_sub_bytes(box->reported_bytes);
  box->reported_bytes = 0;
  box->ptr.reset();
  return 0;
}
template <class T>
int box_tostring(lua_State* L) {
  Box<T>* box = check_box<T>(L, 1);
  if (box->ptr)
    lua_pushfstring(L, "%s: %p", TypeName<T>::value, static_cast<const void*>(box->ptr.get()));
  else
    lua_pushfstring(L, "%s: released", TypeName<T>::value);
  return 1;
}

// Creates the metatable registry["ft.<Name>"] with __name, __gc, a default __tostring, and __index set
// to a method table holding `methods` plus release(). Leaves the metatable on the stack so the caller
// can add metamethods (__add, __len, a custom __index...); pop it when done.
void define_type_raw(lua_State* L, const char* type, const char* registry, const Reg* methods,
                     lua_CFunction gc, NativeFn release, NativeFn tostring);
template <class T>
void define_type(lua_State* L, const Reg* methods) {
  define_type_raw(L, TypeName<T>::value, TypeName<T>::registry, methods, &box_gc<T>, &box_release<T>,
                  &box_tostring<T>);
}

// ---- calling Lua from C++ ----------------------------------------------------------------------
// Like lua_call, but a Lua error becomes a LuaError carrying the message and the Lua traceback.
void call(lua_State* L, int nargs, int nresults);
// Message handler for lua_pcall: appends a traceback that names native frames ("[C++] ft.zeros").
int traceback_handler(lua_State* L);
// Builds "msg\nstack traceback:\n..." for the stack of L starting at `level`.
std::string traceback(lua_State* L, const std::string& msg, int level);

}  // namespace ft::lua
