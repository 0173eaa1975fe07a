// _ft.io: thin Lua wrappers over io/safetensors.h — load a file/folder into a table of tensors, read a
// header without loading data, save a table of tensors as one file or a (sharded) checkpoint folder.
#include <algorithm>

#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "wrap_tensor.h"

namespace ft::lua {
namespace {

void push_string_map(lua_State* L, const std::map<std::string, std::string>& m) {
  lua_createtable(L, 0, static_cast<int>(m.size()));
  for (const auto& [k, v] : m) {
    lua_pushlstring(L, k.data(), k.size());
    lua_pushlstring(L, v.data(), v.size());
    lua_rawset(L, -3);
  }
}

// A { name = Tensor } table at idx, as (name, tensor) pairs sorted by name (Lua tables have no order).
std::vector<std::pair<std::string, at::Tensor>> check_tensor_table(lua_State* L, int idx) {
  check_table(L, idx);
  std::vector<std::pair<std::string, at::Tensor>> out;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    if (lua_type(L, -2) != LUA_TSTRING) throw ArgError(idx, "tensor names must be strings");
    size_t n = 0;
    const char* k = lua_tolstring(L, -2, &n);
    out.emplace_back(std::string(k, n), check_tensor(L, lua_gettop(L)));
    lua_pop(L, 1);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

// A { key = "value" } table at idx (nil: empty).
std::map<std::string, std::string> opt_string_map(lua_State* L, int idx) {
  std::map<std::string, std::string> out;
  if (is_none_or_nil(L, idx)) return out;
  check_table(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
      throw ArgError(idx, "metadata must map strings to strings");
    size_t kn = 0, vn = 0;
    const char* k = lua_tolstring(L, -2, &kn);
    const char* v = lua_tolstring(L, -1, &vn);
    out.emplace(std::string(k, kn), std::string(v, vn));
    lua_pop(L, 1);
  }
  return out;
}

// load(path) -> { name = Tensor }
int w_load(lua_State* L) {
  auto tensors = io::load_safetensors(check_string(L, 1));
  lua_createtable(L, 0, static_cast<int>(tensors.size()));
  for (auto& [name, t] : tensors) {
    lua_pushlstring(L, name.data(), name.size());
    push_tensor(L, t);
    lua_rawset(L, -3);
  }
  return 1;
}

// header(file) -> { metadata = {...}, tensors = { { name, dtype, shape = {...}, offsets = { b, e } }, ... } }
int w_header(lua_State* L) {
  std::string file = check_string(L, 1);
  auto m = io::MappedFile::open(file, /*populate=*/false);
  io::SafetensorsHeader h = io::parse_safetensors_header(m->data(), m->size(), file);
  lua_createtable(L, 0, 3);
  push_string_map(L, h.metadata);
  lua_setfield(L, -2, "metadata");
  lua_pushnumber(L, static_cast<double>(h.data_offset));
  lua_setfield(L, -2, "data_offset");
  lua_createtable(L, static_cast<int>(h.tensors.size()), 0);
  for (size_t i = 0; i < h.tensors.size(); ++i) {
    const io::TensorInfo& t = h.tensors[i];
    lua_createtable(L, 0, 4);
    lua_pushlstring(L, t.name.data(), t.name.size());
    lua_setfield(L, -2, "name");
    lua_pushstring(L, t.dtype.c_str());
    lua_setfield(L, -2, "dtype");
    lua_createtable(L, static_cast<int>(t.shape.size()), 0);
    for (size_t d = 0; d < t.shape.size(); ++d) {
      lua_pushnumber(L, static_cast<double>(t.shape[d]));
      lua_rawseti(L, -2, static_cast<int>(d + 1));
    }
    lua_setfield(L, -2, "shape");
    lua_createtable(L, 2, 0);
    lua_pushnumber(L, static_cast<double>(t.begin));
    lua_rawseti(L, -2, 1);
    lua_pushnumber(L, static_cast<double>(t.end));
    lua_rawseti(L, -2, 2);
    lua_setfield(L, -2, "offsets");
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  lua_setfield(L, -2, "tensors");
  return 1;
}

// save_file(file, tensors, metadata)
int w_save_file(lua_State* L) {
  std::string file = check_string(L, 1);
  auto tensors = check_tensor_table(L, 2);
  io::write_safetensors_file(file, tensors, opt_string_map(L, 3));
  return 0;
}

// save_dir(dir, tensors, metadata, max_shard_bytes, basename)
int w_save_dir(lua_State* L) {
  std::string dir = check_string(L, 1);
  auto tensors = check_tensor_table(L, 2);
  auto metadata = opt_string_map(L, 3);
  int64_t shard = opt_integer(L, 4, 0);
  if (shard < 0) throw ArgError(4, "shard size must be >= 0");
  io::save_safetensors(dir, tensors, metadata, static_cast<uint64_t>(shard), opt_string(L, 5, "model"));
  return 0;
}

int open_io(lua_State* L) {
  static const Reg regs[] = {{"load", w_load},
                             {"header", w_header},
                             {"save_file", w_save_file},
                             {"save_dir", w_save_dir},
                             {nullptr, nullptr}};
  new_lib(L, "ft.safetensors", regs);
  return 1;
}

}  // namespace
}  // namespace ft::lua

FT_LUA_MODULE("_ft.io", ft::lua::open_io);
