// Loading safetensors into LibTorch: one file (tensors alias its mmap, which their deleters keep
// alive), or a sharded checkpoint through its index, cross-checked against what the shards hold.
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fs.h"
#include "core/interrupt.h"
#include "core/strings.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"

namespace ft::io {
namespace {

namespace stdfs = std::filesystem;
using json = nlohmann::json;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; big-endian hosts need byte swaps");

// LibTorch equivalents of safetensors dtypes; the rest (U16/U32/U64, F8*, F4, F6*) have none in 1.13.
bool torch_dtype(const std::string& dtype, at::ScalarType* out) {
  static const std::map<std::string, at::ScalarType> table = {
      {"BOOL", at::kBool},        {"U8", at::kByte},       {"I8", at::kChar},  {"I16", at::kShort},
      {"F16", at::kHalf},         {"BF16", at::kBFloat16}, {"I32", at::kInt},  {"F32", at::kFloat},
      {"C64", at::kComplexFloat}, {"F64", at::kDouble},    {"I64", at::kLong},
  };
  auto it = table.find(dtype);
  if (it == table.end()) return false;
  *out = it->second;
  return true;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::map<std::string, at::Tensor> load_index(const std::string& index_path) {
  std::string text = fs::read_file(index_path);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    std::string msg = e.what();
    auto pos = msg.find("] ");
    throw Error("safetensors index '" + index_path +
                    "' is not valid JSON: " + (pos == std::string::npos ? msg : msg.substr(pos + 2)),
                "the download is incomplete or the file was edited; fetch it again");
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    throw Error("safetensors index '" + index_path + "': expected an object with a 'weight_map' object",
                "a sharded checkpoint index looks like {\"metadata\": {...}, \"weight_map\": {\"<tensor>\": "
                "\"<shard file>\"}}");
  std::map<std::string, std::string> weight_map;
  std::set<std::string> shards;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string())
      throw Error("safetensors index '" + index_path + "': weight_map entry for tensor '" + it.key() +
                  "' must be a shard file name, found " + it.value().dump());
    std::string shard = it.value().get<std::string>();
    stdfs::path p(shard);
    bool escapes = p.is_absolute() || shard.empty();
    for (const auto& part : p) escapes = escapes || part == "..";
    if (escapes)
      throw Error("safetensors index '" + index_path + "': tensor '" + it.key() + "' maps to '" + shard +
                      "', which is not a file inside the checkpoint folder",
                  "shard names are relative file names such as model-00001-of-00002.safetensors");
    weight_map[it.key()] = shard;
    shards.insert(shard);
  }
  std::string dir = stdfs::path(index_path).parent_path().string();
  std::map<std::string, at::Tensor> out;
  for (const std::string& shard : shards) {
    check_interrupt();
    std::string shard_path = (stdfs::path(dir.empty() ? "." : dir) / shard).string();
    if (!fs::exists(shard_path))
      throw Error("safetensors index '" + index_path + "' lists shard '" + shard + "', which does not exist",
                  "the checkpoint is incomplete: download the missing shard or save the model again");
    for (auto& [name, tensor] : load_safetensors_file(shard_path)) {
      auto wm = weight_map.find(name);
      if (wm == weight_map.end())
        throw Error(
            "safetensors shard '" + shard_path + "' holds tensor '" + name + "', which the index '" +
                index_path + "' does not list",
            "the index and the shards come from different saves; save or download the checkpoint again");
      if (wm->second != shard)
        throw Error(
            "tensor '" + name + "' is in shard '" + shard + "' but the index '" + index_path +
                "' maps it to '" + wm->second + "'",
            "the index and the shards come from different saves; save or download the checkpoint again");
      out.emplace(name, std::move(tensor));
    }
  }
  for (const auto& [name, shard] : weight_map)
    if (!out.count(name))
      throw Error(
          "safetensors index '" + index_path + "' maps tensor '" + name + "' to shard '" + shard +
              "', which does not contain it",
          "the index and the shards come from different saves; save or download the checkpoint again");
  return out;
}

}  // namespace

std::map<std::string, at::Tensor> load_safetensors_file(const std::string& file,
                                                        SafetensorsHeader* header_out) {
  auto mapping = MappedFile::open(file);
  SafetensorsHeader h = parse_safetensors_header(mapping->data(), mapping->size(), file);
  std::map<std::string, at::Tensor> out;
  for (const TensorInfo& t : h.tensors) {
    at::ScalarType st;
    if (!torch_dtype(t.dtype, &st))
      throw Error(
          "safetensors file '" + file + "': tensor '" + t.name + "' has dtype " + t.dtype +
              ", which LibTorch " TORCH_VERSION " cannot hold",
          "supported dtypes: BOOL U8 I8 I16 I32 I64 F16 BF16 F32 F64 C64; convert the checkpoint first");
    char* ptr = mapping->data() + h.data_offset + t.begin;
    auto opts = at::TensorOptions().dtype(st);
    size_t elem = at::elementSize(st);
    if (reinterpret_cast<uintptr_t>(ptr) % elem == 0) {
      // Alias the mapping; the deleter holds it open until the last view of this tensor is gone.
      out.emplace(t.name, at::from_blob(
                              ptr, t.shape, [mapping](void*) {}, opts));
    } else {
      // Files from writers that do not align their data: copy into aligned memory.
      at::Tensor copy = at::empty(t.shape, opts);
      std::memcpy(copy.data_ptr(), ptr, t.end - t.begin);
      out.emplace(t.name, std::move(copy));
    }
  }
  if (header_out) *header_out = std::move(h);
  return out;
}

std::map<std::string, at::Tensor> load_safetensors(const std::string& path_or_dir) {
  stdfs::path p(path_or_dir);
  std::error_code ec;
  if (stdfs::is_directory(p, ec)) {
    // transformers' order: the single file first, then the index.
    if (stdfs::exists(p / "model.safetensors")) return load_safetensors_file((p / "model.safetensors").string());
    if (stdfs::exists(p / "model.safetensors.index.json"))
      return load_index((p / "model.safetensors.index.json").string());
    std::vector<std::string> indexes, files;
    for (const auto& e : stdfs::directory_iterator(p, ec)) {
      std::string n = e.path().filename().string();
      if (ends_with(n, kSafetensorsIndexSuffix))
        indexes.push_back(n);
      else if (ends_with(n, ".safetensors"))
        files.push_back(n);
    }
    std::sort(indexes.begin(), indexes.end());
    std::sort(files.begin(), files.end());
    if (indexes.size() == 1) return load_index((p / indexes[0]).string());
    if (indexes.empty() && files.size() == 1) return load_safetensors_file((p / files[0]).string());
    if (indexes.empty() && files.empty())
      throw Error("folder '" + path_or_dir + "' holds no .safetensors file",
                  "a model folder holds model.safetensors or model.safetensors.index.json with its shards");
    throw Error("folder '" + path_or_dir + "' holds several safetensors checkpoints (" +
                    join(indexes.empty() ? files : indexes, ", ") + ") and no model.safetensors[.index.json]",
                "pass the file (or the .index.json) to load explicitly");
  }
  if (ends_with(path_or_dir, ".index.json")) return load_index(path_or_dir);
  return load_safetensors_file(path_or_dir);
}

}  // namespace ft::io
