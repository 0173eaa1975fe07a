// GGUF v3 (ggml-org/ggml docs/gguf.md): a writer for llama.cpp / Ollama exports and a reader that
// parses back what was written (tests, inspection). The writer holds metadata KV pairs of every GGUF
// value type (arrays included) and tensors converted to f32/f16/bf16/q8_0 at write time, one at a
// time; data is aligned to `general.alignment` (32) and the file is written atomically.
// Arch-specific names (blk.N.attn_q...) belong to the model area, which builds on this.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace at {
class Tensor;
}

namespace ft::io {

constexpr uint32_t kGgufVersion = 3;
constexpr uint32_t kGgufDefaultAlignment = 32;

// Tensor storage types (ggml_type codes) the writer produces.
enum class GgufType : uint32_t { F32 = 0, F16 = 1, Q8_0 = 8, BF16 = 30 };

// Metadata value types (gguf_type codes).
enum class GgufValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

// One scalar; the alternative's index is not the type code, use GgufValue::type.
using GgufScalar = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool,
                                std::string, uint64_t, int64_t, double>;

// A metadata value: a scalar, or an array of scalars of one type (nested arrays are not supported).
struct GgufValue {
  GgufValueType type = GgufValueType::UINT8;
  GgufScalar scalar;                               // when type != ARRAY
  GgufValueType elem_type = GgufValueType::UINT8;  // when type == ARRAY
  std::vector<GgufScalar> array;                   // when type == ARRAY
};

// Parses "f32" | "f16" | "bf16" | "q8_0" (as the Lua API spells them); throws ft::Error otherwise.
GgufType parse_gguf_type(const std::string& name);
const char* gguf_type_name(GgufType t);
// Bytes that `numel` elements take in `t` (q8_0: 34 bytes per block of 32).
uint64_t gguf_type_bytes(GgufType t, uint64_t numel);

class GgufWriter {
 public:
  // Scalars; a key given twice is an error (ft::Error naming it).
  void add_u8(const std::string& key, uint8_t v);
  void add_i8(const std::string& key, int8_t v);
  void add_u16(const std::string& key, uint16_t v);
  void add_i16(const std::string& key, int16_t v);
  void add_u32(const std::string& key, uint32_t v);
  void add_i32(const std::string& key, int32_t v);
  void add_u64(const std::string& key, uint64_t v);
  void add_i64(const std::string& key, int64_t v);
  void add_f32(const std::string& key, float v);
  void add_f64(const std::string& key, double v);
  void add_bool(const std::string& key, bool v);
  void add_string(const std::string& key, const std::string& v);
  // Arrays (tokenizer.ggml.tokens / token_type / merges ...).
  void add_array(const std::string& key, const std::vector<std::string>& v);
  void add_array(const std::string& key, const std::vector<int32_t>& v);
  void add_array(const std::string& key, const std::vector<float>& v);
  // Any value; checks that scalars match the declared type(s).
  void add(const std::string& key, GgufValue v);

  // Registers a tensor (a floating tensor of any device/dtype, at most 4 dims). It is converted to
  // `type` during write(); the tensor handle is kept, not copied. GGUF stores dims innermost first,
  // so a [out, in] weight is written as ne = {in, out}. q8_0 needs the innermost dim divisible by 32.
  void add_tensor(const std::string& name, const at::Tensor& t, GgufType type);

  // Writes header, KV pairs (general.alignment added when absent), tensor infos, aligned data:
  // temp file + fsync + rename. Throws ft::Error (temp file removed) on failure.
  void write(const std::string& path) const;

  size_t tensor_count() const { return tensors_.size(); }

 private:
  struct Entry;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<std::shared_ptr<Entry>> tensors_;
  void check_key(const std::string& key) const;
};

// ---- reader (torch-free) ---------------------------------------------------------------------
struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // innermost first, as stored
  uint32_t type = 0;           // ggml_type code
  uint64_t offset = 0;         // relative to the data section
};

struct GgufFile {
  uint32_t version = 0;
  std::vector<std::pair<std::string, GgufValue>> kv;  // in file order
  std::vector<GgufTensorInfo> tensors;
  uint32_t alignment = kGgufDefaultAlignment;
  uint64_t data_offset = 0;  // absolute start of the data section
  const GgufValue* find(const std::string& key) const;
};

// Parses a GGUF file's header/KV/tensor infos from bytes (the whole file), validating sizes, types,
// alignment and that every tensor lies inside the file. Errors name `file` and the key or tensor.
GgufFile parse_gguf(const char* data, size_t size, const std::string& file);

}  // namespace ft::io
