// safetensors: parse and validate headers (torch-free), load files or sharded folders as tensors that
// alias an mmap of the file, and write files atomically (single or sharded with an index), the way
// Python's safetensors and huggingface_hub lay them out. Spec: shared/spec/formats.md section 2.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace at {
class Tensor;
}

namespace ft::io {

struct TensorInfo {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets relative to the data section, end exclusive
};

struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;  // in file order (sorted by offsets)
  std::map<std::string, std::string> metadata;
  uint64_t data_offset = 0;  // 8 + header length: where the data section starts in the file
};

// The largest header Python's safetensors accepts (huggingface_hub caps at 25 MB when fetching).
constexpr uint64_t kSafetensorsMaxHeader = 100'000'000;
// The file names HF uses.
constexpr const char* kSafetensorsIndexSuffix = ".safetensors.index.json";

// Validates every spec rule; errors name the file and tensor/field. (torch-free)
// `data`/`size` cover the whole file (or at least 8 + header bytes when size checks are not wanted:
// the file-size rule compares against `size`).
SafetensorsHeader parse_safetensors_header(const char* data, size_t size, const std::string& file);

// Bits per element of a safetensors dtype string ("F32" -> 32, "F4" -> 4), 0 when unknown. (torch-free)
int safetensors_dtype_bits(const std::string& dtype);
// Every dtype string of the format, in the enum order (= alignment order) of the reference writer.
const std::vector<std::string>& safetensors_dtype_names();
// The header bytes (JSON padded with spaces to a multiple of 8, without the 8-byte length prefix) for
// tensors already laid out in `tensors` order with offsets filled in; `__metadata__` first when not
// empty. Matches the reference serializer byte for byte for a single metadata key. (torch-free)
std::string serialize_safetensors_header(const std::vector<TensorInfo>& tensors,
                                         const std::map<std::string, std::string>& metadata);

// Loads all tensors of one file or of a sharded folder/index; tensors alias an mmap kept alive by
// their deleters. `path_or_dir`: a .safetensors file, a *.safetensors.index.json, or a folder holding
// model.safetensors, model.safetensors.index.json (checked in that order, as transformers does), or
// exactly one *.safetensors.index.json, or else exactly one *.safetensors file.
std::map<std::string, at::Tensor> load_safetensors(const std::string& path_or_dir);
// Same for one file, also returning its header (metadata) when `header_out` is given.
std::map<std::string, at::Tensor> load_safetensors_file(const std::string& file,
                                                        SafetensorsHeader* header_out = nullptr);

// Writes atomically (temp + fsync + rename). max_shard_bytes == 0, or everything fitting in one shard
// (as huggingface_hub decides): one <basename>.safetensors carrying `metadata` plus {"format":"pt"}.
// Otherwise <basename>-00001-of-0000N.safetensors (each with {"format":"pt"}) and
// <basename>.safetensors.index.json ({"metadata": {"total_size": N, ...metadata}, "weight_map": {...}})
// written last. Files of an earlier save with the same basename that this save does not produce are
// removed after the new ones are in place.
void save_safetensors(const std::string& dir, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata, uint64_t max_shard_bytes = 0,
                      const std::string& basename = "model");
// Single-file write: exactly `metadata` in __metadata__ (omitted when empty), tensors ordered by
// dtype (widest first) then name, header padded to 8 bytes.
void write_safetensors_file(const std::string& file,
                            const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                            const std::map<std::string, std::string>& metadata);

// Missing / unexpected / mis-shaped names → ft::Error listing them (first few by name) with a hint.
void check_state_dict(const std::map<std::string, std::vector<int64_t>>& expected,
                      const std::map<std::string, at::Tensor>& loaded, const std::string& source);

}  // namespace ft::io
