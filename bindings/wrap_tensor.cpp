// _ft.tensor: LibTorch tensors as Lua userdata ("Tensor") and the native constructors behind ft.tensor.
// Thin: each function converts its arguments (1-based dims and indices become LibTorch's 0-based ones,
// inclusive Lua ranges become half-open slices, indices LibTorch returns get +1) and makes one LibTorch
// call. The user-facing API and its documentation are in stdlib/ft/tensor.lua.
#include "wrap_tensor.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/strings.h"
#include "tensor_format.h"

namespace ft::lua {

// ==== dtypes and devices ===========================================================================
namespace {

struct DtypeEntry {
  const char* name;
  c10::ScalarType type;
};
// The first name of each dtype is its short form (dtype_name).
const DtypeEntry kDtypes[] = {
    {"f32", at::kFloat},         {"float32", at::kFloat},  {"float", at::kFloat},   {"bf16", at::kBFloat16},
    {"bfloat16", at::kBFloat16}, {"f16", at::kHalf},       {"float16", at::kHalf},  {"half", at::kHalf},
    {"f64", at::kDouble},        {"float64", at::kDouble}, {"double", at::kDouble}, {"i64", at::kLong},
    {"int64", at::kLong},        {"long", at::kLong},      {"i32", at::kInt},       {"int32", at::kInt},
    {"int", at::kInt},           {"i16", at::kShort},      {"int16", at::kShort},   {"i8", at::kChar},
    {"int8", at::kChar},         {"u8", at::kByte},        {"uint8", at::kByte},    {"bool", at::kBool},
};

std::string valid_dtype_list() {
  std::string out;
  c10::ScalarType prev = c10::ScalarType::Undefined;
  for (const auto& e : kDtypes) {
    if (e.type != prev) {
      if (!out.empty()) out += ", ";
      out += e.name;
      prev = e.type;
    } else {
      out += "/";
      out += e.name;
    }
  }
  return out;
}

}  // namespace

c10::ScalarType parse_dtype(const std::string& name) {
  std::string n = name.rfind("torch.", 0) == 0 ? name.substr(6) : name;
  std::vector<std::string> names;
  for (const auto& e : kDtypes) {
    if (n == e.name) return e.type;
    names.emplace_back(e.name);
  }
  std::string msg = "unknown dtype \"" + name + "\"";
  std::string near = ft::nearest(n, names);
  if (!near.empty()) msg += " (did you mean \"" + near + "\"?)";
  throw ft::Error(msg, "valid dtypes: " + valid_dtype_list());
}

std::string dtype_name(c10::ScalarType t) {
  for (const auto& e : kDtypes)
    if (e.type == t) return e.name;
  return c10::toString(t);
}

c10::Device parse_device(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::DeviceType::CPU);
  int64_t index = -1;
  bool cuda = name == "cuda";
  if (!cuda && name.rfind("cuda:", 0) == 0 && name.size() > 5 && name.size() < 9 &&
      name.find_first_not_of("0123456789", 5) == std::string::npos) {
    cuda = true;
    index = std::stoll(name.substr(5));
  }
  if (!cuda)
    throw ft::Error("unknown device \"" + name + "\"",
                    "devices are \"cpu\", \"cuda\" (the current GPU) or \"cuda:N\"");
  if (!torch::cuda::is_available())
    throw ft::Error(
        "device \"" + name + "\" requested but CUDA is not available",
        "this fthost is built against a CPU-only LibTorch or no GPU is visible; use device=\"cpu\"");
  if (index >= static_cast<int64_t>(torch::cuda::device_count()))
    throw ft::Error("device \"" + name + "\" does not exist: " + std::to_string(torch::cuda::device_count()) +
                        " GPU(s) visible",
                    "GPUs are numbered from cuda:0");
  return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index));
}

// ==== pushing and checking tensors ==================================================================
int open_tensor(lua_State* L);  // defines the Tensor metatable; at the end of this file

void push_tensor(lua_State* L, at::Tensor t) {
  if (!t.defined()) {
    lua_pushnil(L);
    return;
  }
  // Any binding may return tensors before a script has required ft.tensor: load the type on demand.
  luaL_getmetatable(L, TypeName<at::Tensor>::registry);
  bool defined = !lua_isnil(L, -1);
  lua_pop(L, 1);
  if (!defined) {
    lua_pushcfunction(L, &open_tensor);
    call(L, 0, 0);
  }
  // A view reports its whole storage, which it keeps alive: views over-count, so collections only come
  // sooner.
  size_t bytes = t.has_storage() ? t.storage().nbytes() : 0;
  push_object<at::Tensor>(L, std::make_shared<at::Tensor>(std::move(t)), bytes);
}

const at::Tensor& check_tensor(lua_State* L, int idx) {
  return check_ref<at::Tensor>(L, idx);
}

// ==== nested tables -> tensors ======================================================================
namespace {

// "row 2" for the first level, "row [2][1]" deeper (the Lua expression that reaches it is data[2][1]).
std::string row_name(const std::vector<int64_t>& path) {
  if (path.size() == 1) return "row " + std::to_string(path[0]);
  std::string s = "row ";
  for (int64_t p : path) s += "[" + std::to_string(p) + "]";
  return s;
}
std::string element_name(const std::vector<int64_t>& path) {
  std::string s = "element ";
  for (int64_t p : path) s += "[" + std::to_string(p) + "]";
  return s;
}

// Reads a rectangular nested table of numbers (or booleans) into row-major values.
class TableReader {
 public:
  TableReader(lua_State* L, int arg) : L_(L), arg_(arg) {}

  void read(int idx) {
    idx = abs_index(idx);
    // The shape comes from the first element at every level; walk() checks every row against it.
    lua_pushvalue(L_, idx);
    while (lua_type(L_, -1) == LUA_TTABLE) {
      int64_t n = static_cast<int64_t>(lua_objlen(L_, -1));
      if (n == 0 && shape_.empty()) reject_non_array(-1);
      if (shape_.size() == kMaxDims)
        throw ArgError(
            arg_, "tables nested more than " + std::to_string(kMaxDims) + " deep (LibTorch's dim limit)");
      shape_.push_back(n);
      if (n == 0) break;
      lua_rawgeti(L_, -1, 1);
      lua_remove(L_, -2);
    }
    lua_pop(L_, 1);
    std::vector<int64_t> path;
    walk(idx, 0, path);
  }

  const std::vector<int64_t>& shape() const { return shape_; }
  const std::vector<double>& values() const { return values_; }
  bool booleans() const { return saw_bool_ && !saw_number_; }

 private:
  int abs_index(int idx) { return idx > 0 ? idx : lua_gettop(L_) + idx + 1; }

  // A table with no array part (an options table passed as data) is not an empty tensor.
  void reject_non_array(int idx) {
    lua_pushnil(L_);
    if (lua_next(L_, idx < 0 ? idx - 1 : idx)) {
      std::string key =
          lua_type(L_, -2) == LUA_TSTRING ? std::string(lua_tostring(L_, -2)) : type_name(L_, -2);
      lua_pop(L_, 3);
      throw ArgError(arg_, "a nested table of numbers expected, got a table with key '" + key + "'");
    }
  }

  void walk(int idx, size_t depth, std::vector<int64_t>& path) {
    if (!lua_checkstack(L_, 4)) throw ArgError(arg_, "table nested too deeply");
    int64_t n = static_cast<int64_t>(lua_objlen(L_, idx));
    if (n != shape_[depth]) {
      throw ArgError(arg_, "ragged table: " + row_name(path) + " has " + std::to_string(n) +
                               " elements, expected " + std::to_string(shape_[depth]));
    }
    bool leaf = depth + 1 == shape_.size();
    for (int64_t k = 1; k <= n; ++k) {
      path.push_back(k);
      lua_rawgeti(L_, idx, static_cast<int>(k));
      int t = lua_type(L_, -1);
      if (leaf) {
        if (t == LUA_TNUMBER) {
          values_.push_back(lua_tonumber(L_, -1));
          saw_number_ = true;
        } else if (t == LUA_TBOOLEAN) {
          values_.push_back(lua_toboolean(L_, -1) ? 1.0 : 0.0);
          saw_bool_ = true;
        } else {
          std::string got = type_name(L_, -1);
          lua_pop(L_, 1);
          std::string what = element_name(path) + " is a " + got + ", expected a number";
          if (got == "table") what += " (rows must nest as deep as the first one)";
          if (got == "Tensor") what += " (to join tensors use ft.tensor.stack or ft.tensor.cat)";
          throw ArgError(arg_, what);
        }
        if (saw_bool_ && saw_number_) {
          lua_pop(L_, 1);
          throw ArgError(arg_, element_name(path) + " mixes booleans and numbers in one table");
        }
      } else {
        if (t != LUA_TTABLE) {
          std::string got = type_name(L_, -1);
          lua_pop(L_, 1);
          throw ArgError(arg_, "ragged table: " + row_name(path) + " is a " + got + ", expected a table of " +
                                   std::to_string(shape_[depth + 1]) + " elements");
        }
        walk(lua_gettop(L_), depth + 1, path);
      }
      lua_pop(L_, 1);
      path.pop_back();
    }
  }

  static constexpr size_t kMaxDims = 64;
  lua_State* L_;
  int arg_;
  std::vector<int64_t> shape_;
  std::vector<double> values_;
  bool saw_bool_ = false;
  bool saw_number_ = false;
};

}  // namespace

at::Tensor to_tensor(lua_State* L, int idx, c10::ScalarType default_dtype) {
  switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
      return at::scalar_tensor(lua_tonumber(L, idx), at::TensorOptions().dtype(at::kDouble))
          .to(default_dtype);
    case LUA_TBOOLEAN:
      return at::scalar_tensor(lua_toboolean(L, idx) != 0, at::TensorOptions().dtype(at::kBool));
    case LUA_TTABLE: {
      TableReader r(L, idx);
      r.read(idx);
      at::Tensor out = at::empty(r.shape(), at::TensorOptions().dtype(at::kDouble));
      if (!r.values().empty())
        std::memcpy(out.data_ptr<double>(), r.values().data(), r.values().size() * sizeof(double));
      return out.to(r.booleans() ? at::kBool : default_dtype);
    }
    default:
      if (is_type(L, idx, TypeName<at::Tensor>::registry)) return check_tensor(L, idx);
      throw ArgError(idx, "Tensor, number or table of numbers expected, got " + type_name(L, idx));
  }
}

// ==== argument helpers ==============================================================================
namespace {

using at::indexing::Slice;
using at::indexing::TensorIndex;

std::string shape_str(at::IntArrayRef s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// c10::Error::what() carries a C++ backtrace; users get the message only.
template <NativeFn F>
int guarded(lua_State* L) {
  try {
    return F(L);
  } catch (const c10::Error& e) {
    std::string m = e.msg();
    size_t cut = m.find("\nException raised from");
    if (cut != std::string::npos) m.resize(cut);
    throw ft::Error(m);
  }
}

// A Lua number as a user wrote it ("3.5", "7").
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.14g", v);
  return buf;
}

// A number operand becomes a "wrapped number" tensor: LibTorch then promotes types as it does for Python
// scalars (int tensor * 2 stays int, int tensor * 2.5 becomes float). Lua numbers with an integral value
// count as integers.
at::Tensor wrap_number(double v) {
  at::Tensor w;
  if (std::floor(v) == v && std::fabs(v) < 9007199254740992.0)
    w = at::scalar_tensor(static_cast<int64_t>(v), at::TensorOptions().dtype(at::kLong));
  else
    w = at::scalar_tensor(v, at::TensorOptions().dtype(at::kDouble));
  w.unsafeGetTensorImpl()->set_wrapped_number(true);
  return w;
}

at::Scalar to_scalar(double v) {
  if (std::floor(v) == v && std::fabs(v) < 9007199254740992.0) return at::Scalar(static_cast<int64_t>(v));
  return at::Scalar(v);
}

// A Tensor or a number (booleans count as bool scalars).
at::Tensor operand(lua_State* L, int idx) {
  switch (lua_type(L, idx)) {
    case LUA_TNUMBER:
      return wrap_number(lua_tonumber(L, idx));
    case LUA_TBOOLEAN: {
      at::Tensor w = at::scalar_tensor(lua_toboolean(L, idx) != 0, at::TensorOptions().dtype(at::kBool));
      w.unsafeGetTensorImpl()->set_wrapped_number(true);
      return w;
    }
    default:
      if (is_type(L, idx, TypeName<at::Tensor>::registry)) return check_tensor(L, idx);
      throw ArgError(idx, "Tensor or number expected, got " + type_name(L, idx));
  }
}

at::Scalar check_scalar(lua_State* L, int idx) {
  if (lua_type(L, idx) == LUA_TBOOLEAN) return at::Scalar(lua_toboolean(L, idx) != 0);
  return to_scalar(check_number(L, idx));
}

// A 1-based dim (negative counts from the end) -> LibTorch's 0-based dim. `n` is the number of valid
// positions (the tensor's dim, or dim+1 where a new dimension is inserted).
int64_t to_dim(lua_State* L, int idx, int64_t n) {
  int64_t d = check_integer(L, idx);
  int64_t m = std::max<int64_t>(n, 1);  // a 0-dim tensor accepts dim 1 / -1, as in PyTorch
  if (d >= 1 && d <= m) return d - 1;
  if (d <= -1 && d >= -m) return d + m;
  throw ArgError(idx, "dim " + std::to_string(d) + " out of range for a tensor with " + std::to_string(n) +
                          " dimension(s) (dims are 1-based: 1.." + std::to_string(m) +
                          ", or -1 for the last)");
}

int64_t to_dim_opt(lua_State* L, int idx, int64_t n, int64_t dflt) {
  return is_none_or_nil(L, idx) ? dflt : to_dim(L, idx, n);
}

// A dim or a table of dims.
std::vector<int64_t> to_dims(lua_State* L, int idx, int64_t n) {
  std::vector<int64_t> dims;
  if (lua_type(L, idx) != LUA_TTABLE) {
    dims.push_back(to_dim(L, idx, n));
    return dims;
  }
  int len = static_cast<int>(lua_objlen(L, idx));
  for (int k = 1; k <= len; ++k) {
    lua_rawgeti(L, idx, k);
    int top = lua_gettop(L);
    try {
      dims.push_back(to_dim(L, top, n));
    } catch (const ArgError& e) {
      lua_pop(L, 1);
      throw ArgError(idx, "dims[" + std::to_string(k) + "]: " + e.what());
    }
    lua_pop(L, 1);
  }
  return dims;
}

// Sizes given as numbers from `first` on, or as one table at `first`. Sets *next to the argument after them.
std::vector<int64_t> read_sizes(lua_State* L, int first, int* next, bool allow_infer) {
  std::vector<int64_t> sizes;
  auto check = [&](double v, int arg, const std::string& where) {
    if (v != std::floor(v) || std::fabs(v) > 9007199254740992.0)
      throw ArgError(arg, where + "size " + num(v) + " is not an integer");
    if (v < (allow_infer ? -1 : 0))
      throw ArgError(arg,
                     where + "size " + std::to_string(static_cast<int64_t>(v)) +
                         (allow_infer ? " is invalid (sizes are >= 0, or -1 to infer one)" : " is negative"));
    sizes.push_back(static_cast<int64_t>(v));
  };
  if (lua_type(L, first) == LUA_TTABLE) {
    int len = static_cast<int>(lua_objlen(L, first));
    for (int k = 1; k <= len; ++k) {
      lua_rawgeti(L, first, k);
      if (lua_type(L, -1) != LUA_TNUMBER) {
        std::string got = type_name(L, -1);
        lua_pop(L, 1);
        throw ArgError(first, "sizes must be integers, element " + std::to_string(k) + " is a " + got);
      }
      double v = lua_tonumber(L, -1);
      lua_pop(L, 1);
      check(v, first, "element " + std::to_string(k) + ": ");
    }
    if (next) *next = first + 1;
    return sizes;
  }
  if (lua_type(L, first) != LUA_TNUMBER)
    throw ArgError(first, "sizes expected (integers or a table of integers), got " + type_name(L, first));
  int k = first;
  for (; lua_type(L, k) == LUA_TNUMBER; ++k) check(lua_tonumber(L, k), k, "");
  if (next) *next = k;
  return sizes;
}

// Creation options { dtype=, device=, requires_grad= } at idx (validated by ft.options in tensor.lua).
at::TensorOptions read_options(lua_State* L, int idx, c10::ScalarType dflt_dtype) {
  if (!is_none_or_nil(L, idx) && lua_type(L, idx) != LUA_TTABLE)
    throw ArgError(idx, "options table expected, got " + type_name(L, idx));
  at::TensorOptions o = at::TensorOptions().dtype(dflt_dtype);
  std::string dt = field_string(L, idx, "dtype", "");
  if (!dt.empty()) o = o.dtype(parse_dtype(dt));
  std::string dev = field_string(L, idx, "device", "");
  if (!dev.empty()) o = o.device(parse_device(dev));
  if (field_boolean(L, idx, "requires_grad", false)) o = o.requires_grad(true);
  return o;
}

bool is_integral(double v) {
  return std::floor(v) == v;
}

// ==== indexing =====================================================================================
// A 1-based index into a dimension of `size` (negative from the end) -> 0-based.
int64_t to_index(int64_t i, int64_t size, int64_t dim1, const char* what = "index") {
  if (i >= 1 && i <= size) return i - 1;
  if (i <= -1 && i >= -size) return size + i;
  throw ft::Error(std::string(what) + " " + std::to_string(i) + " out of range for dimension " +
                      std::to_string(dim1) + " of size " + std::to_string(size),
                  i == 0 ? "indices are 1-based: the first element is 1, the last is -1" : "");
}

int64_t integer_at(lua_State* L, int idx, const char* what) {
  double v = lua_tonumber(L, idx);
  if (!is_integral(v)) throw ft::Error(std::string(what) + " " + num(v) + " is not an integer");
  return static_cast<int64_t>(v);
}

// {a, b[, step]} (inclusive, 1-based), {a} (just a, dimension kept) or {} (all) -> a Slice.
TensorIndex range_index(lua_State* L, int idx, int64_t size, int64_t dim1) {
  int n = static_cast<int>(lua_objlen(L, idx));
  if (n == 0) return Slice();
  if (n > 3)
    throw ft::Error("range for dimension " + std::to_string(dim1) + " has " + std::to_string(n) +
                    " entries, expected {start, stop[, step]}");
  int64_t v[3] = {0, 0, 1};
  for (int k = 1; k <= n; ++k) {
    lua_rawgeti(L, idx, k);
    if (lua_type(L, -1) != LUA_TNUMBER) {
      std::string got = type_name(L, -1);
      lua_pop(L, 1);
      throw ft::Error("range for dimension " + std::to_string(dim1) + ": entry " + std::to_string(k) +
                      " is a " + got + ", expected an integer");
    }
    v[k - 1] = integer_at(L, -1, "range bound");
    lua_pop(L, 1);
  }
  if (n == 1) v[1] = v[0];
  int64_t a = to_index(v[0], size, dim1, "range start");
  int64_t b = to_index(v[1], size, dim1, "range stop");
  if (b < a - 1)
    throw ft::Error("range {" + std::to_string(v[0]) + ", " + std::to_string(v[1]) + "} for dimension " +
                    std::to_string(dim1) + " ends before it starts");
  if (v[2] < 1)
    throw ft::Error("range step " + std::to_string(v[2]) + " for dimension " + std::to_string(dim1) +
                    " must be >= 1");
  return Slice(a, b + 1, v[2]);
}

// The key of t[key]: an integer, a table of integers/ranges, or a bool mask tensor.
std::vector<TensorIndex> read_key(lua_State* L, const at::Tensor& t, int idx) {
  std::vector<TensorIndex> out;
  switch (lua_type(L, idx)) {
    case LUA_TNUMBER: {
      if (t.dim() == 0) throw ft::Error("cannot index a 0-dim tensor", "read its value with t:item()");
      out.emplace_back(to_index(integer_at(L, idx, "index"), t.size(0), 1));
      return out;
    }
    case LUA_TTABLE: {
      int n = static_cast<int>(lua_objlen(L, idx));
      if (n > t.dim())
        throw ft::Error("too many indices: " + std::to_string(n) + " given for a tensor with " +
                        std::to_string(t.dim()) + " dimension(s) of shape " + shape_str(t.sizes()));
      for (int k = 1; k <= n; ++k) {
        lua_rawgeti(L, idx, k);
        int top = lua_gettop(L);
        int type = lua_type(L, top);
        if (type == LUA_TNUMBER) {
          out.emplace_back(to_index(integer_at(L, top, "index"), t.size(k - 1), k));
        } else if (type == LUA_TTABLE) {
          out.push_back(range_index(L, top, t.size(k - 1), k));
        } else {
          std::string got = type_name(L, top);
          lua_pop(L, 1);
          throw ft::Error("index entry " + std::to_string(k) + " is a " + got +
                          ", expected an integer or a range {start, stop[, step]}");
        }
        lua_pop(L, 1);
      }
      if (out.empty()) out.emplace_back(at::indexing::Ellipsis);  // t[{}]: the whole tensor
      return out;
    }
    default:
      if (is_type(L, idx, TypeName<at::Tensor>::registry)) {
        const at::Tensor& m = check_tensor(L, idx);
        if (m.scalar_type() != at::kBool)
          throw ft::Error("a tensor index must be a bool mask, got dtype " + dtype_name(m.scalar_type()),
                          "to pick positions along a dim use t:index_select(dim, idx) (1-based positions)");
        out.emplace_back(m);
        return out;
      }
      throw ft::Error("tensor index must be an integer, a table of indices/ranges or a bool mask, got " +
                      type_name(L, idx));
  }
}

// ==== methods: shape and conversion ================================================================
void push_shape(lua_State* L, const at::Tensor& t) {
  lua_createtable(L, static_cast<int>(t.dim()), 0);
  for (int64_t d = 0; d < t.dim(); ++d) {
    lua_pushnumber(L, static_cast<double>(t.size(d)));
    lua_rawseti(L, -2, static_cast<int>(d + 1));
  }
}

void push_value(lua_State* L, const at::Tensor& scalar) {
  if (scalar.scalar_type() == at::kBool)
    lua_pushboolean(L, scalar.item<bool>());
  else if (at::isFloatingType(scalar.scalar_type()))
    lua_pushnumber(L, scalar.item<double>());
  else
    lua_pushnumber(L, static_cast<double>(scalar.item<int64_t>()));
}

int w_size(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  if (is_none_or_nil(L, 2)) {
    push_shape(L, t);
  } else {
    lua_pushnumber(L, static_cast<double>(t.size(to_dim(L, 2, t.dim()))));
  }
  return 1;
}
int w_numel(lua_State* L) {
  lua_pushnumber(L, static_cast<double>(check_tensor(L, 1).numel()));
  return 1;
}
int w_dim(lua_State* L) {
  lua_pushnumber(L, static_cast<double>(check_tensor(L, 1).dim()));
  return 1;
}
int w_nbytes(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  lua_pushnumber(L, static_cast<double>(t.numel() * t.element_size()));
  return 1;
}
int w_is_contiguous(lua_State* L) {
  lua_pushboolean(L, check_tensor(L, 1).is_contiguous());
  return 1;
}

int w_item(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  if (t.numel() != 1)
    throw ft::Error("item() needs a tensor with exactly one element, got shape " + shape_str(t.sizes()) +
                        " (" + std::to_string(t.numel()) + " elements)",
                    "reduce first (t:sum(), t:max()) or pick one element (t[{i, j}])");
  push_value(L, t);
  return 1;
}

// Nested tables from a contiguous CPU copy.
void push_list(lua_State* L, const at::Tensor& c, int64_t dim, int64_t& offset) {
  if (dim == c.dim()) {
    if (c.scalar_type() == at::kBool)
      lua_pushboolean(L, c.data_ptr<bool>()[offset]);
    else if (c.scalar_type() == at::kDouble)
      lua_pushnumber(L, c.data_ptr<double>()[offset]);
    else
      lua_pushnumber(L, static_cast<double>(c.data_ptr<int64_t>()[offset]));
    ++offset;
    return;
  }
  int64_t n = c.size(dim);
  lua_createtable(L, static_cast<int>(n), 0);
  for (int64_t k = 0; k < n; ++k) {
    push_list(L, c, dim + 1, offset);
    lua_rawseti(L, -2, static_cast<int>(k + 1));
  }
}
int w_tolist(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  at::Tensor c = t.detach().to(at::kCPU);
  if (at::isFloatingType(c.scalar_type()))
    c = c.to(at::kDouble);
  else if (c.scalar_type() != at::kBool)
    c = c.to(at::kLong);
  c = c.contiguous();
  int64_t offset = 0;
  push_list(L, c, 0, offset);
  return 1;
}

// to("bf16") / to("cuda:0") / to({dtype=, device=}) / to(other_tensor)
int w_to(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING) {
    std::string s = lua_tostring(L, 2);
    if (s.rfind("cpu", 0) == 0 || s.rfind("cuda", 0) == 0)
      push_tensor(L, t.to(parse_device(s)));
    else
      push_tensor(L, t.to(parse_dtype(s)));
    return 1;
  }
  if (lua_type(L, 2) == LUA_TTABLE) {
    at::TensorOptions o = t.options();
    std::string dt = field_string(L, 2, "dtype", "");
    std::string dev = field_string(L, 2, "device", "");
    if (!dt.empty()) o = o.dtype(parse_dtype(dt));
    if (!dev.empty()) o = o.device(parse_device(dev));
    push_tensor(L, t.to(o));
    return 1;
  }
  if (is_type(L, 2, TypeName<at::Tensor>::registry)) {
    push_tensor(L, t.to(check_tensor(L, 2).options()));
    return 1;
  }
  throw ArgError(2, "dtype or device name, {dtype=, device=} or Tensor expected, got " + type_name(L, 2));
}

#define FT_TENSOR_CAST(NAME, EXPR)            \
  int w_##NAME(lua_State* L) {                \
    const at::Tensor& t = check_tensor(L, 1); \
    push_tensor(L, EXPR);                     \
    return 1;                                 \
  }
FT_TENSOR_CAST(float, t.to(at::kFloat))
FT_TENSOR_CAST(double, t.to(at::kDouble))
FT_TENSOR_CAST(half, t.to(at::kHalf))
FT_TENSOR_CAST(bfloat16, t.to(at::kBFloat16))
FT_TENSOR_CAST(long, t.to(at::kLong))
FT_TENSOR_CAST(int, t.to(at::kInt))
FT_TENSOR_CAST(bool, t.to(at::kBool))
FT_TENSOR_CAST(cpu, t.cpu())
FT_TENSOR_CAST(clone, t.clone())
FT_TENSOR_CAST(detach, t.detach())
FT_TENSOR_CAST(contiguous, t.contiguous())
// Elementwise functions.
FT_TENSOR_CAST(exp, t.exp())
FT_TENSOR_CAST(log, t.log())
FT_TENSOR_CAST(log1p, t.log1p())
FT_TENSOR_CAST(sqrt, t.sqrt())
FT_TENSOR_CAST(rsqrt, t.rsqrt())
FT_TENSOR_CAST(abs, t.abs())
FT_TENSOR_CAST(neg, t.neg())
FT_TENSOR_CAST(sign, t.sign())
FT_TENSOR_CAST(floor, t.floor())
FT_TENSOR_CAST(ceil, t.ceil())
FT_TENSOR_CAST(round, t.round())
FT_TENSOR_CAST(sin, t.sin())
FT_TENSOR_CAST(cos, t.cos())
FT_TENSOR_CAST(tanh, t.tanh())
FT_TENSOR_CAST(sigmoid, t.sigmoid())
FT_TENSOR_CAST(relu, t.relu())
FT_TENSOR_CAST(silu, at::silu(t))
FT_TENSOR_CAST(gelu, at::gelu(t))
FT_TENSOR_CAST(isnan, t.isnan())
FT_TENSOR_CAST(logical_not, t.logical_not())
FT_TENSOR_CAST(mT, t.t())
#undef FT_TENSOR_CAST

int w_cuda(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  push_tensor(L, t.to(parse_device(opt_string(L, 2, "cuda"))));
  return 1;
}

// ==== methods: arithmetic and comparison ===========================================================
#define FT_TENSOR_BINARY(NAME, CALL)                 \
  int w_##NAME(lua_State* L) {                       \
    at::Tensor a = operand(L, 1), b = operand(L, 2); \
    push_tensor(L, CALL(a, b));                      \
    return 1;                                        \
  }
FT_TENSOR_BINARY(add, at::add)
FT_TENSOR_BINARY(sub, at::sub)
FT_TENSOR_BINARY(mul, at::mul)
FT_TENSOR_BINARY(div, at::div)
FT_TENSOR_BINARY(pow, at::pow)
FT_TENSOR_BINARY(remainder, at::remainder)
FT_TENSOR_BINARY(maximum, at::maximum)
FT_TENSOR_BINARY(minimum, at::minimum)
FT_TENSOR_BINARY(eq, at::eq)
FT_TENSOR_BINARY(ne, at::ne)
FT_TENSOR_BINARY(lt, at::lt)
FT_TENSOR_BINARY(le, at::le)
FT_TENSOR_BINARY(gt, at::gt)
FT_TENSOR_BINARY(ge, at::ge)
FT_TENSOR_BINARY(logical_and, at::logical_and)
FT_TENSOR_BINARY(logical_or, at::logical_or)
FT_TENSOR_BINARY(matmul, at::matmul)
FT_TENSOR_BINARY(mm, at::mm)
#undef FT_TENSOR_BINARY

// In-place: t:add_(x) changes t and returns it.
#define FT_TENSOR_INPLACE(NAME, METHOD)       \
  int w_##NAME(lua_State* L) {                \
    const at::Tensor& t = check_tensor(L, 1); \
    t.METHOD(operand(L, 2));                  \
    lua_settop(L, 1);                         \
    return 1;                                 \
  }
FT_TENSOR_INPLACE(add_, add_)
FT_TENSOR_INPLACE(sub_, sub_)
FT_TENSOR_INPLACE(mul_, mul_)
FT_TENSOR_INPLACE(div_, div_)
FT_TENSOR_INPLACE(copy_, copy_)
#undef FT_TENSOR_INPLACE

int w_fill_(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  t.fill_(check_scalar(L, 2));
  lua_settop(L, 1);
  return 1;
}

int w_zero_(lua_State* L) {
  check_tensor(L, 1).zero_();
  lua_settop(L, 1);
  return 1;
}

int w_unm(lua_State* L) {
  push_tensor(L, at::neg(check_tensor(L, 1)));
  return 1;
}

// a == b (both tensors): same shape and equal elements, as torch.equal. Elementwise: a:eq(b).
int w_equal(lua_State* L) {
  const at::Tensor& a = check_tensor(L, 1);
  const at::Tensor& b = check_tensor(L, 2);
  lua_pushboolean(L, a.sizes() == b.sizes() && at::eq(a, b).all().item<bool>());
  return 1;
}

// a < b / a <= b (both tensors): Lua turns the result into a boolean, so only one-element tensors compare.
template <bool kLessEqual>
int w_order(lua_State* L) {
  const at::Tensor& a = check_tensor(L, 1);
  const at::Tensor& b = check_tensor(L, 2);
  if (a.numel() != 1 || b.numel() != 1)
    throw ft::Error(std::string("a ") + (kLessEqual ? "<=" : "<") +
                        " b needs one-element tensors, got shapes " + shape_str(a.sizes()) + " and " +
                        shape_str(b.sizes()),
                    std::string("for an elementwise comparison use a:") + (kLessEqual ? "le" : "lt") +
                        "(b), which returns a bool tensor");
  at::Tensor r = kLessEqual ? at::le(a.reshape({}), b.reshape({})) : at::lt(a.reshape({}), b.reshape({}));
  lua_pushboolean(L, r.item<bool>());
  return 1;
}

int w_len(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  if (t.dim() == 0)
    throw ft::Error("#t of a 0-dim tensor: it has no dimensions", "read its value with t:item()");
  lua_pushnumber(L, static_cast<double>(t.size(0)));
  return 1;
}

int w_allclose(lua_State* L) {
  const at::Tensor& a = check_tensor(L, 1);
  at::Tensor b = to_tensor(L, 2, a.scalar_type());
  lua_pushboolean(L, at::allclose(a, b.to(a.options()), opt_number(L, 3, 1e-5), opt_number(L, 4, 1e-8)));
  return 1;
}

int w_clamp(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  c10::optional<at::Scalar> lo, hi;
  if (!is_none_or_nil(L, 2)) lo = to_scalar(check_number(L, 2));
  if (!is_none_or_nil(L, 3)) hi = to_scalar(check_number(L, 3));
  if (!lo && !hi) throw ArgError(2, "clamp needs a min, a max or both (pass nil to leave one open)");
  push_tensor(L, at::clamp(t, lo, hi));
  return 1;
}

int w_masked_fill(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  const at::Tensor& mask = check_tensor(L, 2);
  push_tensor(L, t.masked_fill(mask, check_scalar(L, 3)));
  return 1;
}

// ==== methods: reductions ==========================================================================
// Reductions take (dim?, keepdim?): dim is a 1-based dim or a table of dims; nil reduces everything.
#define FT_TENSOR_REDUCE(NAME, ALL, DIMS)                 \
  int w_##NAME(lua_State* L) {                            \
    const at::Tensor& t = check_tensor(L, 1);             \
    if (is_none_or_nil(L, 2)) {                           \
      push_tensor(L, ALL);                                \
    } else {                                              \
      std::vector<int64_t> dims = to_dims(L, 2, t.dim()); \
      bool keep = opt_boolean(L, 3, false);               \
      push_tensor(L, DIMS);                               \
    }                                                     \
    return 1;                                             \
  }
FT_TENSOR_REDUCE(sum, t.sum(), at::sum(t, at::IntArrayRef(dims), keep))
FT_TENSOR_REDUCE(mean, t.mean(), at::mean(t, at::IntArrayRef(dims), keep))
FT_TENSOR_REDUCE(std, t.std(), at::std(t, at::IntArrayRef(dims), true, keep))
FT_TENSOR_REDUCE(var, t.var(), at::var(t, at::IntArrayRef(dims), true, keep))
FT_TENSOR_REDUCE(logsumexp, at::logsumexp(t.reshape({-1}), 0), at::logsumexp(t, at::IntArrayRef(dims), keep))
#undef FT_TENSOR_REDUCE

// One-dim reductions: (dim?, keepdim?) with a single dim.
#define FT_TENSOR_REDUCE1(NAME, ALL, DIM)     \
  int w_##NAME(lua_State* L) {                \
    const at::Tensor& t = check_tensor(L, 1); \
    if (is_none_or_nil(L, 2)) {               \
      push_tensor(L, ALL);                    \
    } else {                                  \
      int64_t d = to_dim(L, 2, t.dim());      \
      bool keep = opt_boolean(L, 3, false);   \
      push_tensor(L, DIM);                    \
    }                                         \
    return 1;                                 \
  }
FT_TENSOR_REDUCE1(prod, t.prod(), at::prod(t, d, keep))
FT_TENSOR_REDUCE1(all, t.all(), at::all(t, d, keep))
FT_TENSOR_REDUCE1(any, t.any(), at::any(t, d, keep))
// argmax/argmin return 1-based positions (LibTorch's index + 1); without a dim, the flat position.
FT_TENSOR_REDUCE1(argmax, at::argmax(t) + 1, at::argmax(t, d, keep) + 1)
FT_TENSOR_REDUCE1(argmin, at::argmin(t) + 1, at::argmin(t, d, keep) + 1)
#undef FT_TENSOR_REDUCE1

// max()/min(): the largest element; max(dim[, keepdim]): values and 1-based indices; max(other): maximum.
template <bool kMax>
int w_extreme(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  if (is_none_or_nil(L, 2)) {
    push_tensor(L, kMax ? t.max() : t.min());
    return 1;
  }
  if (is_type(L, 2, TypeName<at::Tensor>::registry)) {
    push_tensor(L, kMax ? at::maximum(t, check_tensor(L, 2)) : at::minimum(t, check_tensor(L, 2)));
    return 1;
  }
  int64_t d = to_dim(L, 2, t.dim());
  bool keep = opt_boolean(L, 3, false);
  auto r = kMax ? at::max(t, d, keep) : at::min(t, d, keep);
  push_tensor(L, std::get<0>(r));
  push_tensor(L, std::get<1>(r) + 1);
  return 2;
}

// norm(p = 2, dim?, keepdim?)
int w_norm(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  at::Scalar p = to_scalar(opt_number(L, 2, 2.0));
  if (is_none_or_nil(L, 3)) {
    push_tensor(L, at::norm(t, p));
  } else {
    std::vector<int64_t> dims = to_dims(L, 3, t.dim());
    push_tensor(L, at::norm(t, p, at::IntArrayRef(dims), opt_boolean(L, 4, false)));
  }
  return 1;
}

int w_cumsum(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  push_tensor(L, at::cumsum(t, to_dim(L, 2, t.dim())));
  return 1;
}
int w_softmax(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  push_tensor(L, at::softmax(t, to_dim(L, 2, t.dim())));
  return 1;
}
int w_log_softmax(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  push_tensor(L, at::log_softmax(t, to_dim(L, 2, t.dim())));
  return 1;
}

// topk(k, dim = -1, largest = true): values and 1-based indices, sorted.
int w_topk(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  int64_t k = check_integer(L, 2);
  int64_t d = to_dim_opt(L, 3, t.dim(), std::max<int64_t>(t.dim() - 1, 0));
  auto r = at::topk(t, k, d, opt_boolean(L, 4, true), true);
  push_tensor(L, std::get<0>(r));
  push_tensor(L, std::get<1>(r) + 1);
  return 2;
}

// sort(dim = -1, descending = false): values and 1-based indices.
int w_sort(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  int64_t d = to_dim_opt(L, 2, t.dim(), std::max<int64_t>(t.dim() - 1, 0));
  auto r = at::sort(t, d, opt_boolean(L, 3, false));
  push_tensor(L, std::get<0>(r));
  push_tensor(L, std::get<1>(r) + 1);
  return 2;
}

// ==== methods: shape changes and slicing ===========================================================
int w_transpose(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  push_tensor(L, t.transpose(to_dim(L, 2, t.dim()), to_dim(L, 3, t.dim())));
  return 1;
}
int w_reshape(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  push_tensor(L, t.reshape(read_sizes(L, 2, nullptr, true)));
  return 1;
}
int w_view(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  push_tensor(L, t.view(read_sizes(L, 2, nullptr, true)));
  return 1;
}
int w_expand(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  push_tensor(L, t.expand(read_sizes(L, 2, nullptr, true)));
  return 1;
}
int w_permute(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  std::vector<int64_t> dims;
  if (lua_type(L, 2) == LUA_TTABLE) {
    dims = to_dims(L, 2, t.dim());
  } else {
    for (int k = 2; k <= lua_gettop(L); ++k) dims.push_back(to_dim(L, k, t.dim()));
  }
  push_tensor(L, t.permute(dims));
  return 1;
}
int w_squeeze(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  push_tensor(L, is_none_or_nil(L, 2) ? t.squeeze() : t.squeeze(to_dim(L, 2, t.dim())));
  return 1;
}
int w_unsqueeze(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  push_tensor(L, t.unsqueeze(to_dim(L, 2, t.dim() + 1)));
  return 1;
}
int w_flatten(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  int64_t s = to_dim_opt(L, 2, t.dim(), 0);
  int64_t e = to_dim_opt(L, 3, t.dim(), std::max<int64_t>(t.dim() - 1, 0));
  push_tensor(L, t.flatten(s, e));
  return 1;
}

// slice(dim, start, stop[, step]): 1-based, stop inclusive (negative counts from the end).
int w_slice(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  int64_t d = to_dim(L, 2, t.dim());
  int64_t size = t.size(d);
  int64_t a = to_index(check_integer(L, 3), size, d + 1, "slice start");
  int64_t b = to_index(check_integer(L, 4), size, d + 1, "slice stop");
  int64_t step = opt_integer(L, 5, 1);
  if (step < 1) throw ArgError(5, "step must be >= 1, got " + std::to_string(step));
  if (b < a - 1)
    throw ft::Error("slice stop " + std::to_string(b + 1) + " is before start " + std::to_string(a + 1));
  push_tensor(L, t.slice(d, a, b + 1, step));
  return 1;
}

// narrow(dim, start, length): 1-based start.
int w_narrow(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  int64_t d = to_dim(L, 2, t.dim());
  int64_t a = to_index(check_integer(L, 3), t.size(d), d + 1, "narrow start");
  int64_t len = check_integer(L, 4);
  if (len < 0 || a + len > t.size(d))
    throw ArgError(4, "length " + std::to_string(len) + " from start " + std::to_string(a + 1) +
                          " runs past dimension " + std::to_string(d + 1) + " of size " +
                          std::to_string(t.size(d)));
  push_tensor(L, t.narrow(d, a, len));
  return 1;
}

// index_select(dim, idx): idx holds 1-based positions (a Tensor or a table).
int w_index_select(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  int64_t d = to_dim(L, 2, t.dim());
  at::Tensor idx = to_tensor(L, 3, at::kLong).to(at::kLong).reshape({-1});
  int64_t n = t.size(d);
  if (idx.numel() > 0) {
    int64_t lo = idx.min().item<int64_t>(), hi = idx.max().item<int64_t>();
    if (lo < 1 || hi > n)
      throw ft::Error("index " + std::to_string(lo < 1 ? lo : hi) + " out of range for dimension " +
                          std::to_string(d + 1) + " of size " + std::to_string(n),
                      "index_select positions are 1-based");
  }
  push_tensor(L, t.index_select(d, (idx - 1).to(t.device())));
  return 1;
}

// ==== methods: autograd ============================================================================
int w_requires_grad_(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  t.requires_grad_(opt_boolean(L, 2, true));
  lua_settop(L, 1);
  return 1;
}
int w_backward(lua_State* L) {
  check_tensor(L, 1).backward();
  return 0;
}

// ==== metamethods ==================================================================================
const char* const kProps[] = {"shape", "dtype", "device", "requires_grad", "grad"};

int w_index(lua_State* L) {
  if (lua_type(L, 2) == LUA_TSTRING) {
    // Methods first; looking a method up never needs a live tensor (release() must stay reachable).
    lua_getfield(L, LUA_REGISTRYINDEX, "ft.Tensor.methods");
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    if (!lua_isnil(L, -1)) return 1;
    lua_pop(L, 2);
    std::string key = lua_tostring(L, 2);
    const at::Tensor& t = check_tensor(L, 1);
    if (key == "shape") {
      push_shape(L, t);
    } else if (key == "dtype") {
      lua_pushstring(L, dtype_name(t.scalar_type()).c_str());
    } else if (key == "device") {
      lua_pushstring(L, t.device().str().c_str());
    } else if (key == "requires_grad") {
      lua_pushboolean(L, t.requires_grad());
    } else if (key == "grad") {
      push_tensor(L, t.grad());
    } else {
      std::vector<std::string> names(std::begin(kProps), std::end(kProps));
      lua_getfield(L, LUA_REGISTRYINDEX, "ft.Tensor.methods");
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING) names.emplace_back(lua_tostring(L, -2));
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
      std::string near = ft::nearest(key, names);
      throw ft::Error("Tensor has no field or method '" + key + "'" +
                      (near.empty() ? "" : " (did you mean '" + near + "'?)"));
    }
    return 1;
  }
  const at::Tensor& t = check_tensor(L, 1);
  push_tensor(L, t.index(read_key(L, t, 2)));
  return 1;
}

int w_newindex(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  if (lua_type(L, 2) == LUA_TSTRING)
    throw ft::Error(
        std::string("cannot set field '") + lua_tostring(L, 2) + "' of a Tensor",
        "assign elements with t[i] = v or t[{i, j}] = v; change requires_grad with t:requires_grad_()");
  std::vector<TensorIndex> key = read_key(L, t, 2);
  at::Tensor target = t;  // index_put_ is non-const
  if (lua_type(L, 3) == LUA_TNUMBER || lua_type(L, 3) == LUA_TBOOLEAN)
    target.index_put_(key, check_scalar(L, 3));
  else
    target.index_put_(key, to_tensor(L, 3, t.scalar_type()).to(t.device()));
  return 0;
}

int w_tostring(lua_State* L) {
  Box<at::Tensor>* box = check_box<at::Tensor>(L, 1);
  if (!box->ptr) {
    lua_pushstring(L, "tensor(<released>)");
    return 1;
  }
  std::string s = format_tensor(*box->ptr);
  lua_pushlstring(L, s.data(), s.size());
  return 1;
}

// ==== module functions: constructors ===============================================================
// ft.tensor(data[, opts]): data is a nested table, a number, a boolean or a Tensor (copied).
int w_tensor(lua_State* L) {
  bool has_dtype = !field_string(L, 2, "dtype", "").empty();
  at::TensorOptions o = read_options(L, 2, at::kFloat);
  c10::ScalarType dt = c10::typeMetaToScalarType(o.dtype());
  at::Tensor t = to_tensor(L, 1, dt);  // numbers take opts.dtype (f32 by default)
  if (is_type(L, 1, TypeName<at::Tensor>::registry)) t = t.detach().clone();
  if (has_dtype) t = t.to(dt);  // tables of booleans, and tensors
  if (o.has_device()) t = t.to(o.device());
  if (o.requires_grad()) t.requires_grad_(true);
  push_tensor(L, t);
  return 1;
}

// zeros/ones/randn/rand(sizes...[, opts]) share this shape.
template <int kKind>
int w_filled(lua_State* L) {
  int next = 0;
  std::vector<int64_t> sizes = read_sizes(L, 1, &next, false);
  at::TensorOptions o = read_options(L, next, at::kFloat);
  if (!is_none_or_nil(L, next + 1)) throw ArgError(next + 1, "nothing expected after the options table");
  switch (kKind) {
    case 0:
      push_tensor(L, torch::zeros(sizes, o));
      break;
    case 1:
      push_tensor(L, torch::ones(sizes, o));
      break;
    case 2:
      push_tensor(L, torch::randn(sizes, o));
      break;
    default:
      push_tensor(L, torch::rand(sizes, o));
      break;
  }
  return 1;
}

// full(sizes, value[, opts]): sizes is a table or one integer.
int w_full(lua_State* L) {
  int next = 0;
  std::vector<int64_t> sizes;
  if (lua_type(L, 1) == LUA_TTABLE) {
    sizes = read_sizes(L, 1, &next, false);
  } else {
    int64_t n = check_integer(L, 1);
    if (n < 0) throw ArgError(1, "size " + std::to_string(n) + " is negative");
    sizes.push_back(n);
  }
  at::Scalar v = check_scalar(L, 2);
  at::TensorOptions o = read_options(L, 3, v.isBoolean() ? at::kBool : at::kFloat);
  push_tensor(L, torch::full(sizes, v, o));
  return 1;
}

// arange([start,] stop[, step][, opts]): half-open [start, stop) like PyTorch; integers give i64.
int w_arange(lua_State* L) {
  int n = 0;
  while (n < 3 && lua_type(L, n + 1) == LUA_TNUMBER) ++n;
  if (n == 0) throw ArgError(1, "number expected (arange([start,] stop[, step])), got " + type_name(L, 1));
  double start = 0, stop = 0, step = 1;
  if (n == 1) {
    stop = lua_tonumber(L, 1);
  } else {
    start = lua_tonumber(L, 1);
    stop = lua_tonumber(L, 2);
    if (n == 3) step = lua_tonumber(L, 3);
  }
  if (step == 0) throw ArgError(3, "step must not be 0");
  bool ints = is_integral(start) && is_integral(stop) && is_integral(step);
  at::TensorOptions o = read_options(L, n + 1, ints ? at::kLong : at::kFloat);
  push_tensor(L, torch::arange(to_scalar(start), to_scalar(stop), to_scalar(step), o));
  return 1;
}

// randint(low, high, sizes[, opts]): integers in [low, high).
int w_randint(lua_State* L) {
  int64_t lo = check_integer(L, 1), hi = check_integer(L, 2);
  if (hi <= lo)
    throw ArgError(2, "high (" + std::to_string(hi) + ") must be > low (" + std::to_string(lo) + ")");
  int next = 4;
  std::vector<int64_t> sizes;
  if (lua_type(L, 3) == LUA_TNUMBER) {
    int64_t n = check_integer(L, 3);
    if (n < 0) throw ArgError(3, "size " + std::to_string(n) + " is negative");
    sizes.push_back(n);
  } else {
    sizes = read_sizes(L, 3, &next, false);
  }
  push_tensor(L, torch::randint(lo, hi, sizes, read_options(L, next, at::kLong)));
  return 1;
}

// eye(n[, m][, opts])
int w_eye(lua_State* L) {
  int64_t n = check_integer(L, 1);
  int next = 2;
  int64_t m = n;
  if (lua_type(L, 2) == LUA_TNUMBER) {
    m = check_integer(L, 2);
    next = 3;
  }
  if (n < 0 || m < 0) throw ArgError(n < 0 ? 1 : 2, "sizes must be >= 0");
  push_tensor(L, torch::eye(n, m, read_options(L, next, at::kFloat)));
  return 1;
}

// zeros_like/ones_like/randn_like(t[, opts]): same shape, dtype and device unless opts say otherwise.
template <int kKind>
int w_like(lua_State* L) {
  const at::Tensor& t = check_tensor(L, 1);
  if (!is_none_or_nil(L, 2)) check_table(L, 2);
  at::TensorOptions o = t.options().requires_grad(false);
  std::string dt = field_string(L, 2, "dtype", "");
  std::string dev = field_string(L, 2, "device", "");
  if (!dt.empty()) o = o.dtype(parse_dtype(dt));
  if (!dev.empty()) o = o.device(parse_device(dev));
  switch (kKind) {
    case 0:
      push_tensor(L, at::zeros(t.sizes(), o));
      break;
    case 1:
      push_tensor(L, at::ones(t.sizes(), o));
      break;
    default:
      push_tensor(L, at::randn(t.sizes(), o));
      break;
  }
  return 1;
}

// cat/stack(list, dim = 1)
std::vector<at::Tensor> tensor_list(lua_State* L, int idx) {
  check_table(L, idx);
  std::vector<at::Tensor> out;
  int n = static_cast<int>(lua_objlen(L, idx));
  for (int k = 1; k <= n; ++k) {
    lua_rawgeti(L, idx, k);
    if (!is_type(L, -1, TypeName<at::Tensor>::registry)) {
      std::string got = type_name(L, -1);
      lua_pop(L, 1);
      throw ArgError(idx, "element " + std::to_string(k) + " is a " + got + ", expected a Tensor");
    }
    out.push_back(check_tensor(L, lua_gettop(L)));
    lua_pop(L, 1);
  }
  if (out.empty()) throw ArgError(idx, "a non-empty list of tensors expected");
  return out;
}
int w_cat(lua_State* L) {
  std::vector<at::Tensor> ts = tensor_list(L, 1);
  push_tensor(L, at::cat(ts, to_dim_opt(L, 2, ts[0].dim(), 0)));
  return 1;
}
int w_stack(lua_State* L) {
  std::vector<at::Tensor> ts = tensor_list(L, 1);
  push_tensor(L, at::stack(ts, to_dim_opt(L, 2, ts[0].dim() + 1, 0)));
  return 1;
}

// where(cond, a, b): a where cond is true, else b (a and b are tensors or numbers).
int w_where(lua_State* L) {
  const at::Tensor& c = check_tensor(L, 1);
  push_tensor(L, at::where(c, operand(L, 2), operand(L, 3)));
  return 1;
}

int w_cuda_available(lua_State* L) {
  lua_pushboolean(L, torch::cuda::is_available());
  return 1;
}

int w_is_tensor(lua_State* L) {
  lua_pushboolean(L, is_type(L, 1, TypeName<at::Tensor>::registry));
  return 1;
}

// set_printoptions{precision=, threshold=, edgeitems=, linewidth=}; returns the options now in force.
int w_printoptions(lua_State* L) {
  TensorPrintOptions& o = tensor_print_options();
  if (!is_none_or_nil(L, 1)) {
    check_table(L, 1);
    TensorPrintOptions n = o;
    n.precision = static_cast<int>(field_integer(L, 1, "precision", o.precision));
    n.threshold = field_integer(L, 1, "threshold", o.threshold);
    n.edgeitems = field_integer(L, 1, "edgeitems", o.edgeitems);
    n.linewidth = static_cast<int>(field_integer(L, 1, "linewidth", o.linewidth));
    if (n.precision < 0 || n.precision > 30 || n.threshold < 0 || n.edgeitems < 1 || n.linewidth < 1)
      throw ArgError(1, "precision 0..30, threshold >= 0, edgeitems >= 1 and linewidth >= 1 expected");
    o = n;
  }
  lua_createtable(L, 0, 4);
  lua_pushnumber(L, o.precision);
  lua_setfield(L, -2, "precision");
  lua_pushnumber(L, static_cast<double>(o.threshold));
  lua_setfield(L, -2, "threshold");
  lua_pushnumber(L, static_cast<double>(o.edgeitems));
  lua_setfield(L, -2, "edgeitems");
  lua_pushnumber(L, o.linewidth);
  lua_setfield(L, -2, "linewidth");
  return 1;
}

// ==== registration =================================================================================
#define FT_G(name, fn) \
  { name, &guarded<fn> }

const Reg kMethods[] = {FT_G("size", w_size),
                        FT_G("numel", w_numel),
                        FT_G("dim", w_dim),
                        FT_G("nbytes", w_nbytes),
                        FT_G("is_contiguous", w_is_contiguous),
                        FT_G("item", w_item),
                        FT_G("tolist", w_tolist),
                        FT_G("to", w_to),
                        FT_G("float", w_float),
                        FT_G("double", w_double),
                        FT_G("half", w_half),
                        FT_G("bfloat16", w_bfloat16),
                        FT_G("long", w_long),
                        FT_G("int", w_int),
                        FT_G("bool", w_bool),
                        FT_G("cpu", w_cpu),
                        FT_G("cuda", w_cuda),
                        FT_G("clone", w_clone),
                        FT_G("detach", w_detach),
                        FT_G("contiguous", w_contiguous),
                        // elementwise
                        FT_G("exp", w_exp),
                        FT_G("log", w_log),
                        FT_G("log1p", w_log1p),
                        FT_G("sqrt", w_sqrt),
                        FT_G("rsqrt", w_rsqrt),
                        FT_G("abs", w_abs),
                        FT_G("neg", w_neg),
                        FT_G("sign", w_sign),
                        FT_G("floor", w_floor),
                        FT_G("ceil", w_ceil),
                        FT_G("round", w_round),
                        FT_G("sin", w_sin),
                        FT_G("cos", w_cos),
                        FT_G("tanh", w_tanh),
                        FT_G("sigmoid", w_sigmoid),
                        FT_G("relu", w_relu),
                        FT_G("silu", w_silu),
                        FT_G("gelu", w_gelu),
                        FT_G("isnan", w_isnan),
                        FT_G("logical_not", w_logical_not),
                        FT_G("clamp", w_clamp),
                        FT_G("masked_fill", w_masked_fill),
                        // arithmetic and comparison
                        FT_G("add", w_add),
                        FT_G("sub", w_sub),
                        FT_G("mul", w_mul),
                        FT_G("div", w_div),
                        FT_G("pow", w_pow),
                        FT_G("remainder", w_remainder),
                        FT_G("maximum", w_maximum),
                        FT_G("minimum", w_minimum),
                        FT_G("eq", w_eq),
                        FT_G("ne", w_ne),
                        FT_G("lt", w_lt),
                        FT_G("le", w_le),
                        FT_G("gt", w_gt),
                        FT_G("ge", w_ge),
                        FT_G("logical_and", w_logical_and),
                        FT_G("logical_or", w_logical_or),
                        FT_G("equal", w_equal),
                        FT_G("allclose", w_allclose),
                        FT_G("matmul", w_matmul),
                        FT_G("mm", w_mm),
                        // in place
                        FT_G("add_", w_add_),
                        FT_G("sub_", w_sub_),
                        FT_G("mul_", w_mul_),
                        FT_G("div_", w_div_),
                        FT_G("copy_", w_copy_),
                        FT_G("fill_", w_fill_),
                        FT_G("zero_", w_zero_),
                        // reductions
                        FT_G("sum", w_sum),
                        FT_G("mean", w_mean),
                        FT_G("std", w_std),
                        FT_G("var", w_var),
                        FT_G("logsumexp", w_logsumexp),
                        FT_G("prod", w_prod),
                        FT_G("all", w_all),
                        FT_G("any", w_any),
                        FT_G("argmax", w_argmax),
                        FT_G("argmin", w_argmin),
                        FT_G("max", w_extreme<true>),
                        FT_G("min", w_extreme<false>),
                        FT_G("norm", w_norm),
                        FT_G("cumsum", w_cumsum),
                        FT_G("softmax", w_softmax),
                        FT_G("log_softmax", w_log_softmax),
                        FT_G("topk", w_topk),
                        FT_G("sort", w_sort),
                        // shape
                        FT_G("t", w_mT),
                        FT_G("transpose", w_transpose),
                        FT_G("reshape", w_reshape),
                        FT_G("view", w_view),
                        FT_G("expand", w_expand),
                        FT_G("permute", w_permute),
                        FT_G("squeeze", w_squeeze),
                        FT_G("unsqueeze", w_unsqueeze),
                        FT_G("flatten", w_flatten),
                        FT_G("slice", w_slice),
                        FT_G("narrow", w_narrow),
                        FT_G("index_select", w_index_select),
                        // autograd
                        FT_G("requires_grad_", w_requires_grad_),
                        FT_G("backward", w_backward),
                        {nullptr, nullptr}};

const Reg kFunctions[] = {FT_G("zeros", w_filled<0>),
                          FT_G("ones", w_filled<1>),
                          FT_G("randn", w_filled<2>),
                          FT_G("rand", w_filled<3>),
                          FT_G("full", w_full),
                          FT_G("arange", w_arange),
                          FT_G("randint", w_randint),
                          FT_G("eye", w_eye),
                          FT_G("zeros_like", w_like<0>),
                          FT_G("ones_like", w_like<1>),
                          FT_G("randn_like", w_like<2>),
                          FT_G("cat", w_cat),
                          FT_G("stack", w_stack),
                          FT_G("matmul", w_matmul),
                          FT_G("where", w_where),
                          FT_G("is_tensor", w_is_tensor),
                          FT_G("cuda_available", w_cuda_available),
                          FT_G("set_printoptions", w_printoptions),
                          {nullptr, nullptr}};

struct MetaReg {
  const char* name;
  NativeFn fn;
};
const MetaReg kMeta[] = {
    {"__index", &guarded<w_index>},       {"__newindex", &guarded<w_newindex>},
    {"__tostring", &guarded<w_tostring>}, {"__add", &guarded<w_add>},
    {"__sub", &guarded<w_sub>},           {"__mul", &guarded<w_mul>},
    {"__div", &guarded<w_div>},           {"__pow", &guarded<w_pow>},
    {"__mod", &guarded<w_remainder>},     {"__unm", &guarded<w_unm>},
    {"__eq", &guarded<w_equal>},          {"__lt", &guarded<w_order<false>>},
    {"__le", &guarded<w_order<true>>},    {"__len", &guarded<w_len>},
};
#undef FT_G

}  // namespace

int open_tensor(lua_State* L) {
  define_type<at::Tensor>(L, kMethods);  // leaves the metatable on the stack
  lua_getfield(L, -1, "__index");        // the method table define_type made
  lua_setfield(L, LUA_REGISTRYINDEX, "ft.Tensor.methods");
  for (const auto& m : kMeta) {
    push_native(L, (std::string("Tensor.") + m.name).c_str(), m.fn);
    lua_setfield(L, -2, m.name);
  }
  lua_pop(L, 1);

  new_lib(L, "ft.tensor", kFunctions);
  push_native(L, "ft.tensor", &guarded<w_tensor>);
  lua_setfield(L, -2, "tensor");
  lua_getfield(L, LUA_REGISTRYINDEX, "ft.Tensor.methods");
  lua_setfield(L, -2, "methods");
  return 1;
}

}  // namespace ft::lua

FT_LUA_MODULE("_ft.tensor", ft::lua::open_tensor);
