#pragma once
// The torch-free half of safetensors reading: validating a file's header and a sharded checkpoint's
// index. Everything these functions accept may come from a file nobody here wrote, so they refuse
// (SafetensorsError naming the file) before anything is mapped into a tensor: offsets outside the
// data, shapes whose element count overflows, shards named outside the checkpoint directory.
#include <cstdint>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vstar::model {

// Raised for unreadable, truncated or inconsistent files; the message names the file (and tensor).
struct SafetensorsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// safetensors dtype strings: "BF16" "F16" "F32" "F64" "I64" "I32" "I16" "I8" "U8" "BOOL".
enum class DType { kBF16, kF16, kF32, kF64, kI64, kI32, kI16, kI8, kU8, kBool };
const char* DTypeName(DType d);
size_t DTypeSize(DType d);

struct TensorInfo {
  std::string name;  // as stored in the file
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets relative to the data section
  uint64_t end = 0;
  int64_t numel() const;  // fits int64: the header parser refuses shapes that overflow
};

struct SafetensorsHeader {
  std::map<std::string, TensorInfo> tensors;
  std::map<std::string, std::string> metadata;
  uint64_t data_offset = 0;  // 8 + header length
};

// Validates the header of a safetensors file held in `bytes` (the whole file, `size` bytes): header
// length within the Python package's 100 MB limit and the file, valid JSON, every entry's dtype,
// shape (non-negative, element count and byte size without overflow) and data_offsets matching,
// and the tensors tiling the data section without holes or overlaps.
SafetensorsHeader ParseSafetensorsHeader(const unsigned char* bytes, uint64_t size,
                                         const std::filesystem::path& file);

struct SafetensorsIndex {
  nlohmann::json weight_map;                // tensor name -> shard file name
  std::vector<std::filesystem::path> files;  // the shards, index.parent_path()/name, first-seen order
};

// Parses model.safetensors.index.json text ({"weight_map": {name: shard}}). A shard must be a file
// inside the index's directory: a name that is empty, absolute or has a ".." component is refused.
SafetensorsIndex ParseSafetensorsIndex(const std::string& text, const std::filesystem::path& index);

}  // namespace vstar::model
