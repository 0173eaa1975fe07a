// GgufWriter: collects KV pairs and tensor handles, then streams a GGUF v3 file: header, KV pairs,
// tensor infos, padding to the alignment, and each tensor converted on the CPU one at a time and
// padded to the alignment. Written to a temp sibling, fsynced, renamed.
#include <torch/torch.h>

#include <set>

#include "core/error.h"
#include "core/interrupt.h"
#include "io/atomic_file.h"
#include "io/gguf.h"
#include "io/gguf_quant.h"

namespace ft::io {

struct GgufWriter::Entry {
  std::string name;
  at::Tensor tensor;
  GgufType type;
  std::vector<uint64_t> dims;  // innermost first
  uint64_t bytes = 0;
};

namespace {

constexpr size_t kMaxTensorName = 63;  // llama.cpp's GGML_MAX_NAME is 64 including the NUL

template <class T>
void put(std::string& out, T v) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "GGUF is written little-endian");
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}
void put_str(std::string& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out += s;
}

// The variant alternative each value type code must hold.
bool scalar_matches(GgufValueType t, const GgufScalar& s) {
  switch (t) {
    case GgufValueType::UINT8:
      return std::holds_alternative<uint8_t>(s);
    case GgufValueType::INT8:
      return std::holds_alternative<int8_t>(s);
    case GgufValueType::UINT16:
      return std::holds_alternative<uint16_t>(s);
    case GgufValueType::INT16:
      return std::holds_alternative<int16_t>(s);
    case GgufValueType::UINT32:
      return std::holds_alternative<uint32_t>(s);
    case GgufValueType::INT32:
      return std::holds_alternative<int32_t>(s);
    case GgufValueType::FLOAT32:
      return std::holds_alternative<float>(s);
    case GgufValueType::BOOL:
      return std::holds_alternative<bool>(s);
    case GgufValueType::STRING:
      return std::holds_alternative<std::string>(s);
    case GgufValueType::UINT64:
      return std::holds_alternative<uint64_t>(s);
    case GgufValueType::INT64:
      return std::holds_alternative<int64_t>(s);
    case GgufValueType::FLOAT64:
      return std::holds_alternative<double>(s);
    default:
      return false;
  }
}

void put_scalar(std::string& out, const GgufScalar& s) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>)
          put_str(out, v);
        else if constexpr (std::is_same_v<T, bool>)
          put<uint8_t>(out, v ? 1 : 0);
        else
          put<T>(out, v);
      },
      s);
}

GgufValue scalar(GgufValueType t, GgufScalar s) {
  GgufValue v;
  v.type = t;
  v.scalar = std::move(s);
  return v;
}

template <class T>
GgufValue array_of(GgufValueType t, const std::vector<T>& xs) {
  GgufValue v;
  v.type = GgufValueType::ARRAY;
  v.elem_type = t;
  v.array.reserve(xs.size());
  for (const T& x : xs) v.array.emplace_back(std::in_place_type<T>, x);
  return v;
}

// The tensor's bytes in the target type.
std::string convert(const at::Tensor& src, GgufType type, const std::string& name) {
  at::Tensor t = src.detach().to(at::kCPU);
  std::string out;
  switch (type) {
    case GgufType::F32:
      t = t.to(at::kFloat).contiguous();
      break;
    case GgufType::F16:
      t = t.to(at::kHalf).contiguous();
      break;
    case GgufType::BF16:
      t = t.to(at::kBFloat16).contiguous();
      break;
    case GgufType::Q8_0: {
      t = t.to(at::kFloat).contiguous();
      if (!at::isfinite(t).all().item<bool>())
        throw Error(
            "GGUF export: tensor '" + name + "' holds NaN or Inf values, which q8_0 cannot quantise",
            "the weights are corrupt (diverged training?); export a healthy checkpoint or use type f16");
      size_t n = static_cast<size_t>(t.numel());
      out.resize(n / kQ8_0Block * kQ8_0BlockBytes);
      quantize_q8_0(t.data_ptr<float>(), n, reinterpret_cast<uint8_t*>(&out[0]));
      return out;
    }
  }
  out.assign(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel()) * t.element_size());
  return out;
}

}  // namespace

void GgufWriter::check_key(const std::string& key) const {
  if (key.empty()) throw Error("GGUF metadata key is empty");
  for (const auto& [k, v] : kv_)
    if (k == key) throw Error("GGUF metadata key '" + key + "' is set twice", "each key may appear once");
}

void GgufWriter::add(const std::string& key, GgufValue v) {
  check_key(key);
  if (v.type == GgufValueType::ARRAY) {
    if (v.elem_type == GgufValueType::ARRAY ||
        static_cast<uint32_t>(v.elem_type) > static_cast<uint32_t>(GgufValueType::FLOAT64))
      throw Error("GGUF metadata key '" + key + "': arrays must hold scalars");
    for (size_t i = 0; i < v.array.size(); ++i)
      if (!scalar_matches(v.elem_type, v.array[i]))
        throw Error("GGUF metadata key '" + key + "': element " + std::to_string(i) +
                    " does not match the array type");
  } else if (!scalar_matches(v.type, v.scalar)) {
    throw Error("GGUF metadata key '" + key + "': value does not match its declared type");
  }
  if (key == "general.alignment") {
    const uint32_t* a = std::get_if<uint32_t>(&v.scalar);
    if (v.type != GgufValueType::UINT32 || !a || *a == 0 || (*a & (*a - 1)) != 0)
      throw Error("GGUF general.alignment must be a uint32 power of two");
  }
  kv_.emplace_back(key, std::move(v));
}

void GgufWriter::add_u8(const std::string& k, uint8_t v) {
  add(k, scalar(GgufValueType::UINT8, v));
}
void GgufWriter::add_i8(const std::string& k, int8_t v) {
  add(k, scalar(GgufValueType::INT8, v));
}
void GgufWriter::add_u16(const std::string& k, uint16_t v) {
  add(k, scalar(GgufValueType::UINT16, v));
}
void GgufWriter::add_i16(const std::string& k, int16_t v) {
  add(k, scalar(GgufValueType::INT16, v));
}
void GgufWriter::add_u32(const std::string& k, uint32_t v) {
  add(k, scalar(GgufValueType::UINT32, v));
}
void GgufWriter::add_i32(const std::string& k, int32_t v) {
  add(k, scalar(GgufValueType::INT32, v));
}
void GgufWriter::add_u64(const std::string& k, uint64_t v) {
  add(k, scalar(GgufValueType::UINT64, v));
}
void GgufWriter::add_i64(const std::string& k, int64_t v) {
  add(k, scalar(GgufValueType::INT64, v));
}
void GgufWriter::add_f32(const std::string& k, float v) {
  add(k, scalar(GgufValueType::FLOAT32, v));
}
void GgufWriter::add_f64(const std::string& k, double v) {
  add(k, scalar(GgufValueType::FLOAT64, v));
}
void GgufWriter::add_bool(const std::string& k, bool v) {
  add(k, scalar(GgufValueType::BOOL, GgufScalar(std::in_place_type<bool>, v)));
}
void GgufWriter::add_string(const std::string& k, const std::string& v) {
  add(k, scalar(GgufValueType::STRING, GgufScalar(std::in_place_type<std::string>, v)));
}
void GgufWriter::add_array(const std::string& k, const std::vector<std::string>& v) {
  add(k, array_of(GgufValueType::STRING, v));
}
void GgufWriter::add_array(const std::string& k, const std::vector<int32_t>& v) {
  add(k, array_of(GgufValueType::INT32, v));
}
void GgufWriter::add_array(const std::string& k, const std::vector<float>& v) {
  add(k, array_of(GgufValueType::FLOAT32, v));
}

void GgufWriter::add_tensor(const std::string& name, const at::Tensor& t, GgufType type) {
  if (name.empty() || name.size() > kMaxTensorName)
    throw Error("GGUF tensor name '" + name + "' is " + std::to_string(name.size()) +
                " bytes; llama.cpp accepts 1 to 63");
  for (const auto& e : tensors_)
    if (e->name == name) throw Error("GGUF tensor '" + name + "' is added twice");
  if (!t.defined()) throw Error("GGUF tensor '" + name + "' is undefined (an empty handle)");
  if (!at::isFloatingType(t.scalar_type()))
    throw Error("GGUF tensor '" + name + "' has dtype " + std::string(c10::toString(t.scalar_type())) +
                "; only floating tensors can be exported as f32/f16/bf16/q8_0");
  if (t.dim() > 4)
    throw Error("GGUF tensor '" + name + "' has " + std::to_string(t.dim()) + " dimensions; GGUF allows 4");
  auto e = std::make_shared<Entry>();
  e->name = name;
  e->tensor = t;
  e->type = type;
  for (int64_t d = t.dim() - 1; d >= 0; --d) e->dims.push_back(static_cast<uint64_t>(t.size(d)));
  if (e->dims.empty()) e->dims.push_back(1);  // a scalar is stored as ne = {1}
  if (type == GgufType::Q8_0 && e->dims[0] % kQ8_0Block != 0)
    throw Error("GGUF tensor '" + name + "': q8_0 needs the innermost dimension (" +
                    std::to_string(e->dims[0]) + ") to be a multiple of 32",
                "export this tensor as f16 or f32 instead");
  e->bytes = gguf_type_bytes(type, static_cast<uint64_t>(t.numel()));
  tensors_.push_back(std::move(e));
}

void GgufWriter::write(const std::string& path) const {
  bool has_alignment = false;
  uint32_t alignment = kGgufDefaultAlignment;
  for (const auto& [k, v] : kv_)
    if (k == "general.alignment") {
      has_alignment = true;
      alignment = std::get<uint32_t>(v.scalar);
    }
  std::string head = "GGUF";
  put<uint32_t>(head, kGgufVersion);
  put<uint64_t>(head, tensors_.size());
  put<uint64_t>(head, kv_.size() + (has_alignment ? 0 : 1));
  if (!has_alignment) {
    put_str(head, "general.alignment");
    put<uint32_t>(head, static_cast<uint32_t>(GgufValueType::UINT32));
    put<uint32_t>(head, alignment);
  }
  for (const auto& [k, v] : kv_) {
    put_str(head, k);
    put<uint32_t>(head, static_cast<uint32_t>(v.type));
    if (v.type == GgufValueType::ARRAY) {
      put<uint32_t>(head, static_cast<uint32_t>(v.elem_type));
      put<uint64_t>(head, v.array.size());
      for (const auto& s : v.array) put_scalar(head, s);
    } else {
      put_scalar(head, v.scalar);
    }
  }
  auto pad_to = [&](uint64_t n) { return (n + alignment - 1) / alignment * alignment; };
  uint64_t offset = 0;
  for (const auto& e : tensors_) {
    put_str(head, e->name);
    put<uint32_t>(head, static_cast<uint32_t>(e->dims.size()));
    for (uint64_t d : e->dims) put<uint64_t>(head, d);
    put<uint32_t>(head, static_cast<uint32_t>(e->type));
    put<uint64_t>(head, offset);
    offset = pad_to(offset + e->bytes);
  }
  head.append(pad_to(head.size()) - head.size(), '\0');

  AtomicFile out(path);
  out.write(head.data(), head.size());
  for (const auto& e : tensors_) {
    check_interrupt();
    std::string bytes = convert(e->tensor, e->type, e->name);
    out.write(bytes.data(), bytes.size());
    out.pad(pad_to(bytes.size()) - bytes.size());
  }
  out.commit();
}

}  // namespace ft::io
