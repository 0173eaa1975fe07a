// Writing safetensors: one file laid out as the reference writer does (dtype widest first, then name;
// header padded to 8 bytes), or a sharded checkpoint split the way huggingface_hub splits it, with the
// index written last. Every file goes to a temp sibling, is fsynced, then renamed into place.
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/interrupt.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"

namespace ft::io {
namespace {

namespace stdfs = std::filesystem;

const char* safetensors_dtype(at::ScalarType t) {
  switch (t) {
    case at::kBool:
      return "BOOL";
    case at::kByte:
      return "U8";
    case at::kChar:
      return "I8";
    case at::kShort:
      return "I16";
    case at::kHalf:
      return "F16";
    case at::kBFloat16:
      return "BF16";
    case at::kInt:
      return "I32";
    case at::kFloat:
      return "F32";
    case at::kComplexFloat:
      return "C64";
    case at::kDouble:
      return "F64";
    case at::kLong:
      return "I64";
    default:
      return nullptr;
  }
}

int dtype_rank(const std::string& dtype) {
  const auto& names = safetensors_dtype_names();
  return static_cast<int>(std::find(names.begin(), names.end(), dtype) - names.begin());
}

uint64_t tensor_bytes(const at::Tensor& t) {
  return static_cast<uint64_t>(t.numel()) * t.element_size();
}

// Validates names and dtypes up front so a bad input never leaves a half-written file.
void check_tensors(const std::string& file, const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  std::set<std::string> seen;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__")
      throw Error("cannot write '" + file + "': '__metadata__' is reserved and cannot name a tensor",
                  "rename the tensor");
    if (!seen.insert(name).second)
      throw Error("cannot write '" + file + "': tensor '" + name + "' appears twice",
                  "each tensor name must be unique");
    try {
      (void)nlohmann::json(name).dump();
    } catch (const nlohmann::json::exception&) {
      throw Error("cannot write '" + file + "': tensor name '" + name + "' is not valid UTF-8");
    }
    if (!t.defined())
      throw Error("cannot write '" + file + "': tensor '" + name + "' is undefined (an empty handle)");
    if (t.layout() != at::kStrided)
      throw Error("cannot write '" + file + "': tensor '" + name + "' is sparse",
                  "convert it with to_dense() first");
    if (!safetensors_dtype(t.scalar_type()))
      throw Error("cannot write '" + file + "': tensor '" + name + "' has dtype " +
                      std::string(c10::toString(t.scalar_type())) + ", which safetensors has no name for",
                  "convert it to one of bool, u8, i8, i16, i32, i64, f16, bf16, f32, f64, complex64");
  }
}

std::string shard_name(const std::string& basename, size_t i, size_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "-%05zu-of-%05zu", i, n);
  return basename + buf + ".safetensors";
}

}  // namespace

void write_safetensors_file(const std::string& file,
                            const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                            const std::map<std::string, std::string>& metadata) {
  check_tensors(file, tensors);
  for (const auto& [k, v] : metadata) {
    try {
      (void)nlohmann::json(k).dump();
      (void)nlohmann::json(v).dump();
    } catch (const nlohmann::json::exception&) {
      throw Error("cannot write '" + file + "': metadata key '" + k + "' or its value is not valid UTF-8");
    }
  }
  // Reference order: dtype descending (so every tensor starts aligned to its element size), then name.
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::vector<TensorInfo> infos(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const at::Tensor& t = tensors[i].second;
    infos[i].name = tensors[i].first;
    infos[i].dtype = safetensors_dtype(t.scalar_type());
    infos[i].shape = t.sizes().vec();
  }
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    int ra = dtype_rank(infos[a].dtype), rb = dtype_rank(infos[b].dtype);
    return ra != rb ? ra > rb : infos[a].name < infos[b].name;
  });
  std::vector<TensorInfo> laid;
  uint64_t offset = 0;
  for (size_t i : order) {
    TensorInfo t = infos[i];
    t.begin = offset;
    offset += tensor_bytes(tensors[i].second);
    t.end = offset;
    laid.push_back(std::move(t));
  }
  std::string header = serialize_safetensors_header(laid, metadata);
  uint64_t n = header.size();
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);

  AtomicFile out(file);
  out.write(len, 8);
  out.write(header.data(), header.size());
  for (size_t i : order) {
    check_interrupt();
    // One tensor at a time on the CPU, so a GPU model is never copied whole.
    at::Tensor t = tensors[i].second.to(at::kCPU).contiguous();
    out.write(t.data_ptr(), tensor_bytes(t));
  }
  out.commit();
}

void save_safetensors(const std::string& dir, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata, uint64_t max_shard_bytes,
                      const std::string& basename) {
  fs::make_dirs(dir);
  check_tensors((stdfs::path(dir) / (basename + ".safetensors")).string(), tensors);

  // huggingface_hub's split: in order; a tensor above the cap gets a shard of its own; otherwise a new
  // shard starts when the next tensor would overflow the current one.
  std::vector<std::vector<size_t>> shards;
  if (max_shard_bytes == 0) {
    shards.emplace_back();
    for (size_t i = 0; i < tensors.size(); ++i) shards.back().push_back(i);
  } else {
    std::vector<size_t> cur;
    uint64_t cur_bytes = 0;
    for (size_t i = 0; i < tensors.size(); ++i) {
      uint64_t b = tensor_bytes(tensors[i].second);
      if (b > max_shard_bytes) {
        shards.push_back({i});
        continue;
      }
      if (!cur.empty() && cur_bytes + b > max_shard_bytes) {
        shards.push_back(std::move(cur));
        cur.clear();
        cur_bytes = 0;
      }
      cur.push_back(i);
      cur_bytes += b;
    }
    if (!cur.empty() || shards.empty()) shards.push_back(std::move(cur));
  }

  std::set<std::string> written;
  std::string index_name = basename + kSafetensorsIndexSuffix;
  if (shards.size() == 1) {
    std::map<std::string, std::string> md = metadata;
    md.emplace("format", "pt");  // transformers refuses files without it; the caller's value wins
    std::string name = basename + ".safetensors";
    write_safetensors_file((stdfs::path(dir) / name).string(), tensors, md);
    written.insert(name);
  } else {
    nlohmann::json weight_map = nlohmann::json::object();
    uint64_t total = 0;
    for (size_t s = 0; s < shards.size(); ++s) {
      std::string name = shard_name(basename, s + 1, shards.size());
      std::vector<std::pair<std::string, at::Tensor>> part;
      for (size_t i : shards[s]) {
        part.push_back(tensors[i]);
        weight_map[tensors[i].first] = name;
        total += tensor_bytes(tensors[i].second);
      }
      write_safetensors_file((stdfs::path(dir) / name).string(), part, {{"format", "pt"}});
      written.insert(name);
    }
    nlohmann::json md = nlohmann::json::object();
    md["total_size"] = total;
    for (const auto& [k, v] : metadata)
      if (k != "total_size") md[k] = v;
    nlohmann::json index = {{"metadata", md}, {"weight_map", weight_map}};
    fs::write_file_atomic((stdfs::path(dir) / index_name).string(), index.dump(2) + "\n");
    written.insert(index_name);
  }

  // Remove what an earlier save with this basename left and this one did not rewrite.
  std::error_code ec;
  for (const auto& e : stdfs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (written.count(n) || n.compare(0, basename.size(), basename) != 0) continue;
    std::string rest = n.substr(basename.size());
    static const std::regex stale(R"((-\d{5}-of-\d{5})?\.safetensors(\.index\.json)?)");
    if (std::regex_match(rest, stale)) stdfs::remove(e.path(), ec);
  }
}

}  // namespace ft::io
