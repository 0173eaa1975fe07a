// safetensors header parsing, validation and serialisation. Torch-free on purpose: the libFuzzer
// target (tests/fuzz) compiles this file alone. Every rule of the reference reader is enforced, and
// each failure names the file and the tensor or field at fault.
#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/strings.h"
#include "io/safetensors.h"

namespace ft::io {
namespace {

using json = nlohmann::json;

// Nesting deeper than this cannot be a valid header (the deepest legal value is 3 levels).
constexpr int kMaxJsonDepth = 64;

struct DtypeSpec {
  const char* name;
  int bits;
};
// Enum order of the reference implementation: this is the alignment order writers sort by.
constexpr DtypeSpec kDtypes[] = {
    {"BOOL", 8},    {"F4", 4},      {"F6_E2M3", 6}, {"F6_E3M2", 6},     {"U8", 8},          {"I8", 8},
    {"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8}, {"I16", 16},
    {"U16", 16},    {"F16", 16},    {"BF16", 16},   {"I32", 32},        {"U32", 32},        {"F32", 32},
    {"C64", 64},    {"F64", 64},    {"I64", 64},    {"U64", 64},
};

std::string where(const std::string& file) {
  return "safetensors file '" + file + "'";
}

[[noreturn]] void fail(const std::string& file, const std::string& what, const std::string& hint = {}) {
  throw Error(where(file) + ": " + what, hint);
}

[[noreturn]] void fail_tensor(const std::string& file, const std::string& tensor, const std::string& what,
                              const std::string& hint = {}) {
  throw Error(where(file) + ": tensor '" + tensor + "': " + what, hint);
}

const char* kCorruptHint =
    "the file is corrupt or was not written by a safetensors writer; download or save it again";

// A JSON value as the user would recognise it in an error message (short).
std::string show(const json& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// Parses the header text, rejecting duplicate keys at any level (nlohmann keeps the last silently)
// and absurd nesting.
json parse_json_strict(const char* begin, const char* end, const std::string& file) {
  std::vector<std::set<std::string>> keys;  // one key set per open object
  std::string duplicate;
  int depth = 0;
  auto cb = [&](int, json::parse_event_t ev, json& parsed) -> bool {
    switch (ev) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        if (++depth > kMaxJsonDepth)
          fail(file, "header JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels",
               kCorruptHint);
        break;
      case json::parse_event_t::array_start:
        if (++depth > kMaxJsonDepth)
          fail(file, "header JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels",
               kCorruptHint);
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        --depth;
        break;
      case json::parse_event_t::array_end:
        --depth;
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second && duplicate.empty())
          duplicate = parsed.get<std::string>();
        break;
      default:
        break;
    }
    return true;
  };
  json j;
  try {
    j = json::parse(begin, end, cb, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::exception& e) {
    // nlohmann's message already says "at line L, column C" and what it expected.
    std::string msg = e.what();
    auto pos = msg.find("] ");
    fail(file, "header is not valid JSON: " + (pos == std::string::npos ? msg : msg.substr(pos + 2)),
         kCorruptHint);
  }
  if (!duplicate.empty()) fail(file, "header has the key '" + duplicate + "' twice", kCorruptHint);
  return j;
}

uint64_t get_u64(const json& v, const std::string& file, const std::string& tensor,
                 const std::string& field) {
  if (!v.is_number_unsigned())
    fail_tensor(file, tensor, "'" + field + "' must hold non-negative integers, found " + show(v),
                kCorruptHint);
  return v.get<uint64_t>();
}

TensorInfo parse_tensor_entry(const std::string& name, const json& v, const std::string& file) {
  if (!v.is_object())
    fail_tensor(file, name, "entry must be an object with dtype, shape, data_offsets; found " + show(v),
                kCorruptHint);
  TensorInfo t;
  t.name = name;
  for (const char* field : {"dtype", "shape", "data_offsets"})
    if (!v.contains(field))
      fail_tensor(file, name, std::string("missing field '") + field + "'", kCorruptHint);

  const json& dtype = v["dtype"];
  if (!dtype.is_string())
    fail_tensor(file, name, "'dtype' must be a string, found " + show(dtype), kCorruptHint);
  t.dtype = dtype.get<std::string>();
  int bits = safetensors_dtype_bits(t.dtype);
  if (bits == 0) {
    std::string near = nearest(t.dtype, safetensors_dtype_names());
    fail_tensor(
        file, name,
        "unknown dtype '" + t.dtype + "' (expected one of " + join(safetensors_dtype_names(), " ") + ")",
        near.empty() ? kCorruptHint : "did you mean '" + near + "'?");
  }

  const json& shape = v["shape"];
  if (!shape.is_array())
    fail_tensor(file, name, "'shape' must be an array, found " + show(shape), kCorruptHint);
  // Element count with overflow checks (the reference rejects overflow as a validation error).
  uint64_t numel = 1;
  bool overflow = false;
  for (const json& d : shape) {
    uint64_t dim = get_u64(d, file, name, "shape");
    if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) overflow = true;
    if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / dim) overflow = true;
    numel = overflow ? 0 : numel * dim;
    t.shape.push_back(static_cast<int64_t>(std::min<uint64_t>(dim, std::numeric_limits<int64_t>::max())));
  }
  if (overflow || numel > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(bits))
    fail_tensor(file, name, "shape " + shape_string(t.shape) + " overflows 64-bit byte counts", kCorruptHint);

  const json& offs = v["data_offsets"];
  if (!offs.is_array() || offs.size() != 2)
    fail_tensor(file, name, "'data_offsets' must be [begin, end], found " + show(offs), kCorruptHint);
  t.begin = get_u64(offs[0], file, name, "data_offsets");
  t.end = get_u64(offs[1], file, name, "data_offsets");
  if (t.end < t.begin)
    fail_tensor(
        file, name,
        "'data_offsets' [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] end before begin",
        kCorruptHint);

  uint64_t total_bits = numel * static_cast<uint64_t>(bits);
  if (total_bits % 8 != 0)
    fail_tensor(file, name,
                "shape " + shape_string(t.shape) + " of " + t.dtype + " is " + std::to_string(total_bits) +
                    " bits, not a whole number of bytes",
                kCorruptHint);
  uint64_t nbytes = total_bits / 8;
  if (t.end - t.begin != nbytes)
    fail_tensor(file, name,
                "'data_offsets' [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] span " +
                    std::to_string(t.end - t.begin) + " bytes but shape " + shape_string(t.shape) + " of " +
                    t.dtype + " needs " + std::to_string(nbytes),
                kCorruptHint);
  return t;
}

// serde_json's compact string form; nlohmann's dump() escapes the same characters the same way.
std::string quote(const std::string& s) {
  return json(s).dump();
}

}  // namespace

int safetensors_dtype_bits(const std::string& dtype) {
  for (const auto& d : kDtypes)
    if (dtype == d.name) return d.bits;
  return 0;
}

const std::vector<std::string>& safetensors_dtype_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& d : kDtypes) v.emplace_back(d.name);
    return v;
  }();
  return names;
}

SafetensorsHeader parse_safetensors_header(const char* data, size_t size, const std::string& file) {
  if (size < 8)
    fail(file,
         "is " + std::to_string(size) + " bytes; a safetensors file starts with an 8-byte header length",
         "the file is truncated or empty; download or save it again");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(data[i]);  // little-endian
  if (n > kSafetensorsMaxHeader)
    fail(file,
         "header length " + std::to_string(n) + " exceeds the " + std::to_string(kSafetensorsMaxHeader) +
             "-byte limit",
         "this is not a safetensors file, or its first 8 bytes are corrupt");
  if (n > size - 8)
    fail(file,
         "header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(size) +
             " bytes)",
         "the file is truncated; download or save it again");
  const char* hb = data + 8;
  const char* he = hb + n;
  if (n == 0 || hb[0] != '{') fail(file, "header must be a JSON object starting with '{'", kCorruptHint);

  json j = parse_json_strict(hb, he, file);
  if (!j.is_object()) fail(file, "header must be a JSON object, found " + show(j), kCorruptHint);

  SafetensorsHeader h;
  h.data_offset = 8 + n;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object())
        fail(file, "'__metadata__' must be an object of strings, found " + show(it.value()), kCorruptHint);
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string())
          fail(file, "'__metadata__' value for '" + m.key() + "' must be a string, found " + show(m.value()),
               kCorruptHint);
        h.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    h.tensors.push_back(parse_tensor_entry(it.key(), it.value(), file));
  }

  // Offsets must tile the data section from 0 without holes or overlap (reference: sort by offsets).
  std::stable_sort(h.tensors.begin(), h.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expect = 0;
  for (size_t i = 0; i < h.tensors.size(); ++i) {
    const TensorInfo& t = h.tensors[i];
    if (t.begin != expect) {
      std::string prev = i ? "'" + h.tensors[i - 1].name + "' ends" : "the data section starts";
      fail_tensor(file, t.name,
                  "'data_offsets' begin " + std::to_string(t.begin) + " but " + prev + " at " +
                      std::to_string(expect) + (t.begin < expect ? " (overlap)" : " (hole)"),
                  kCorruptHint);
    }
    expect = t.end;
  }
  uint64_t data_size = size - h.data_offset;
  if (expect != data_size)
    fail(file,
         "data section is " + std::to_string(data_size) + " bytes but the header's tensors cover " +
             std::to_string(expect) + (expect > data_size ? " (file truncated)" : " (trailing bytes)"),
         expect > data_size ? "the file is truncated; download or save it again" : kCorruptHint);
  return h;
}

std::string serialize_safetensors_header(const std::vector<TensorInfo>& tensors,
                                         const std::map<std::string, std::string>& metadata) {
  std::string s = "{";
  bool first = true;
  if (!metadata.empty()) {
    s += "\"__metadata__\":{";
    bool f = true;
    for (const auto& [k, v] : metadata) {
      s += (f ? "" : ",") + quote(k) + ":" + quote(v);
      f = false;
    }
    s += "}";
    first = false;
  }
  for (const TensorInfo& t : tensors) {
    s += (first ? "" : ",") + quote(t.name) + ":{\"dtype\":" + quote(t.dtype) + ",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i) s += (i ? "," : "") + std::to_string(t.shape[i]);
    s += "],\"data_offsets\":[" + std::to_string(t.begin) + "," + std::to_string(t.end) + "]}";
    first = false;
  }
  s += "}";
  s.append((8 - s.size() % 8) % 8, ' ');
  return s;
}

}  // namespace ft::io
