// GGUF reader: bounds-checked parse of the header, KV pairs and tensor infos, plus the type tables the
// writer shares. Torch-free. Rules follow ggml's gguf.cpp: unique keys and names, known types, dims
// 1..4, tensors laid out in order at aligned offsets, all inside the file.
#include <cstring>
#include <limits>
#include <set>

#include "core/error.h"
#include "io/gguf.h"
#include "io/gguf_quant.h"

namespace ft::io {
namespace {

constexpr uint32_t kMaxDims = 4;       // GGML_MAX_DIMS
constexpr size_t kMaxTensorName = 64;  // GGML_MAX_NAME, including the terminating NUL

// Block size and bytes per block of the ggml types this reader can size (the common dense and
// legacy quantised ones); k-quants and IQ types are rejected by name.
struct TypeSize {
  uint32_t code;
  const char* name;
  uint64_t block, bytes;
};
constexpr TypeSize kTypes[] = {
    {0, "F32", 1, 4},    {1, "F16", 1, 2},    {2, "Q4_0", 32, 18}, {3, "Q4_1", 32, 20}, {6, "Q5_0", 32, 22},
    {7, "Q5_1", 32, 24}, {8, "Q8_0", 32, 34}, {24, "I8", 1, 1},    {25, "I16", 1, 2},   {26, "I32", 1, 4},
    {27, "I64", 1, 8},   {28, "F64", 1, 8},   {30, "BF16", 1, 2},
};
const TypeSize* find_type(uint32_t code) {
  for (const auto& t : kTypes)
    if (t.code == code) return &t;
  return nullptr;
}

class Cursor {
 public:
  Cursor(const char* data, size_t size, const std::string& file)
      : p_(data), end_(data + size), base_(data), file_(file) {}
  [[noreturn]] void fail(const std::string& what) const {
    throw Error("GGUF file '" + file_ + "': " + what + " (at byte " + std::to_string(p_ - base_) + ")",
                "the file is truncated or not a GGUF v3 file; export it again");
  }
  size_t left() const { return static_cast<size_t>(end_ - p_); }
  size_t pos() const { return static_cast<size_t>(p_ - base_); }
  template <class T>
  T get(const char* what) {
    if (left() < sizeof(T)) fail(std::string("file ends inside ") + what);
    T v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }
  std::string str(const char* what) {
    uint64_t n = get<uint64_t>(what);
    if (n > left())
      fail(std::string(what) + " claims " + std::to_string(n) + " bytes, past the end of the file");
    std::string s(p_, static_cast<size_t>(n));
    p_ += n;
    return s;
  }

 private:
  const char* p_;
  const char* end_;
  const char* base_;
  std::string file_;
};

GgufScalar read_scalar(Cursor& c, GgufValueType t, const std::string& key) {
  switch (t) {
    case GgufValueType::UINT8:
      return c.get<uint8_t>("a uint8 value");
    case GgufValueType::INT8:
      return c.get<int8_t>("an int8 value");
    case GgufValueType::UINT16:
      return c.get<uint16_t>("a uint16 value");
    case GgufValueType::INT16:
      return c.get<int16_t>("an int16 value");
    case GgufValueType::UINT32:
      return c.get<uint32_t>("a uint32 value");
    case GgufValueType::INT32:
      return c.get<int32_t>("an int32 value");
    case GgufValueType::FLOAT32:
      return c.get<float>("a float32 value");
    case GgufValueType::UINT64:
      return c.get<uint64_t>("a uint64 value");
    case GgufValueType::INT64:
      return c.get<int64_t>("an int64 value");
    case GgufValueType::FLOAT64:
      return c.get<double>("a float64 value");
    case GgufValueType::BOOL: {
      uint8_t b = c.get<uint8_t>("a bool value");
      if (b > 1) c.fail("key '" + key + "': bool value " + std::to_string(b) + " is neither 0 nor 1");
      return b == 1;
    }
    case GgufValueType::STRING:
      return c.str("a string value");
    default:
      c.fail("key '" + key + "': value type " + std::to_string(static_cast<uint32_t>(t)) +
             " is not a scalar type");
  }
}

size_t min_scalar_bytes(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8:
    case GgufValueType::INT8:
    case GgufValueType::BOOL:
      return 1;
    case GgufValueType::UINT16:
    case GgufValueType::INT16:
      return 2;
    case GgufValueType::UINT32:
    case GgufValueType::INT32:
    case GgufValueType::FLOAT32:
      return 4;
    default:
      return 8;  // 64-bit scalars, and strings (their length prefix)
  }
}

}  // namespace

GgufType parse_gguf_type(const std::string& name) {
  if (name == "f32") return GgufType::F32;
  if (name == "f16") return GgufType::F16;
  if (name == "bf16") return GgufType::BF16;
  if (name == "q8_0") return GgufType::Q8_0;
  throw Error("unknown GGUF tensor type '" + name + "'", "use one of \"f32\", \"f16\", \"bf16\", \"q8_0\"");
}

const char* gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::F32:
      return "f32";
    case GgufType::F16:
      return "f16";
    case GgufType::BF16:
      return "bf16";
    case GgufType::Q8_0:
      return "q8_0";
  }
  return "?";
}

uint64_t gguf_type_bytes(GgufType t, uint64_t numel) {
  switch (t) {
    case GgufType::F32:
      return numel * 4;
    case GgufType::F16:
    case GgufType::BF16:
      return numel * 2;
    case GgufType::Q8_0:
      return numel / kQ8_0Block * kQ8_0BlockBytes;
  }
  return 0;
}

const GgufValue* GgufFile::find(const std::string& key) const {
  for (const auto& [k, v] : kv)
    if (k == key) return &v;
  return nullptr;
}

GgufFile parse_gguf(const char* data, size_t size, const std::string& file) {
  Cursor c(data, size, file);
  GgufFile g;
  if (size < 4 || std::memcmp(data, "GGUF", 4) != 0) c.fail("does not start with the magic 'GGUF'");
  c.get<uint32_t>("the magic");
  g.version = c.get<uint32_t>("the version");
  if (g.version != kGgufVersion)
    c.fail("version " + std::to_string(g.version) + " is not supported (expected 3)");
  uint64_t n_tensors = c.get<uint64_t>("the tensor count");
  uint64_t n_kv = c.get<uint64_t>("the KV count");
  // Each KV takes >= 8+4+1 bytes and each tensor info >= 8+4+8+4+8: reject counts the file cannot hold.
  if (n_kv > c.left() / 13) c.fail("KV count " + std::to_string(n_kv) + " cannot fit in the file");
  if (n_tensors > c.left() / 32)
    c.fail("tensor count " + std::to_string(n_tensors) + " cannot fit in the file");

  std::set<std::string> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.str("a key");
    if (!keys.insert(key).second) c.fail("key '" + key + "' appears twice");
    GgufValue v;
    v.type = static_cast<GgufValueType>(c.get<uint32_t>("a value type"));
    if (v.type == GgufValueType::ARRAY) {
      v.elem_type = static_cast<GgufValueType>(c.get<uint32_t>("an array type"));
      if (v.elem_type == GgufValueType::ARRAY) c.fail("key '" + key + "': nested arrays are not supported");
      if (static_cast<uint32_t>(v.elem_type) > static_cast<uint32_t>(GgufValueType::FLOAT64))
        c.fail("key '" + key + "': unknown array element type " +
               std::to_string(static_cast<uint32_t>(v.elem_type)));
      uint64_t n = c.get<uint64_t>("an array length");
      if (n > c.left() / min_scalar_bytes(v.elem_type))
        c.fail("key '" + key + "': array of " + std::to_string(n) + " elements cannot fit in the file");
      v.array.reserve(static_cast<size_t>(n));
      for (uint64_t j = 0; j < n; ++j) v.array.push_back(read_scalar(c, v.elem_type, key));
    } else {
      if (static_cast<uint32_t>(v.type) > static_cast<uint32_t>(GgufValueType::FLOAT64))
        c.fail("key '" + key + "': unknown value type " + std::to_string(static_cast<uint32_t>(v.type)));
      v.scalar = read_scalar(c, v.type, key);
    }
    if (key == "general.alignment") {
      if (v.type != GgufValueType::UINT32) c.fail("key 'general.alignment' must be a uint32");
      uint32_t a = std::get<uint32_t>(v.scalar);
      if (a == 0 || (a & (a - 1)) != 0)
        c.fail("general.alignment " + std::to_string(a) + " is not a power of two");
      g.alignment = a;
    }
    g.kv.emplace_back(std::move(key), std::move(v));
  }

  std::set<std::string> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensorInfo t;
    t.name = c.str("a tensor name");
    if (t.name.size() >= kMaxTensorName)
      c.fail("tensor name '" + t.name + "' is " + std::to_string(t.name.size()) +
             " bytes (llama.cpp allows 63)");
    if (!names.insert(t.name).second) c.fail("tensor '" + t.name + "' appears twice");
    uint32_t n_dims = c.get<uint32_t>("a tensor's dimension count");
    if (n_dims == 0 || n_dims > kMaxDims)
      c.fail("tensor '" + t.name + "' has " + std::to_string(n_dims) + " dimensions (expected 1 to 4)");
    for (uint32_t d = 0; d < n_dims; ++d) t.dims.push_back(c.get<uint64_t>("a tensor dimension"));
    t.type = c.get<uint32_t>("a tensor type");
    t.offset = c.get<uint64_t>("a tensor offset");
    g.tensors.push_back(std::move(t));
  }
  uint64_t a = g.alignment;
  g.data_offset = (c.pos() + a - 1) / a * a;
  if (g.data_offset > size) c.fail("file ends before its data section");

  uint64_t expect = 0, data_size = size - g.data_offset;
  for (const GgufTensorInfo& t : g.tensors) {
    const TypeSize* ts = find_type(t.type);
    if (!ts)
      c.fail("tensor '" + t.name + "' has ggml type " + std::to_string(t.type) +
             ", which this reader cannot size");
    uint64_t numel = 1;
    for (uint64_t d : t.dims) {
      if (d != 0 && numel > std::numeric_limits<uint64_t>::max() / 64 / d)
        c.fail("tensor '" + t.name + "' has dimensions whose product overflows");
      numel *= d;
    }
    if (t.dims[0] % ts->block != 0)
      c.fail("tensor '" + t.name + "': innermost dimension " + std::to_string(t.dims[0]) +
             " is not a multiple of the " + ts->name + " block size " + std::to_string(ts->block));
    uint64_t bytes = numel / ts->block * ts->bytes;
    if (t.offset != expect)
      c.fail("tensor '" + t.name + "' has offset " + std::to_string(t.offset) + ", expected " +
             std::to_string(expect));
    if (bytes > data_size || t.offset > data_size - bytes)
      c.fail("tensor '" + t.name + "' (" + std::to_string(bytes) + " bytes at offset " +
             std::to_string(t.offset) + ") runs past the end of the file");
    expect = (t.offset + bytes + a - 1) / a * a;
  }
  return g;
}

}  // namespace ft::io
