#pragma once
// safetensors reading (mmap, zero-copy torch::Tensor views) and writing; the
// huggingface/safetensors file format: u64 little-endian header length N, N bytes of JSON {name:
// {dtype, shape, data_offsets:[b,e]}, "__metadata__": {...}}, then the data (offsets relative to
// 8+N). A checkpoint is one model.safetensors or several shards listed by
// model.safetensors.index.json.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "model/safetensors_header.hpp"

namespace vstar::model {

c10::ScalarType ToScalarType(DType d);
DType FromScalarType(c10::ScalarType t);  // throws SafetensorsError for unsupported types

// One mmapped .safetensors file. Tensors returned by Get() alias the mapping (no copy) and keep it
// alive after the SafetensorsFile itself is gone. The header is fully validated on Open
// (ParseSafetensorsHeader).
class SafetensorsFile {
 public:
  static std::shared_ptr<SafetensorsFile> Open(const std::filesystem::path& file);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool Has(const std::string& name) const { return tensors_.count(name) != 0; }
  // Zero-copy CPU tensor over the mapping. The mapping is copy-on-write (MAP_PRIVATE), so an in-place
  // write changes a private copy of the page, never the file.
  torch::Tensor Get(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  struct Mapping;
  std::shared_ptr<Mapping> map_;
  std::filesystem::path path_;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
  uint64_t data_offset_ = 0;
};

// Canonical (Hub/legacy) name of a stored key: "model.language_model.X" -> "model.X",
// "model.visual.X" -> "visual.X"; everything else unchanged (lm_head.weight, visual.*, model.*).
std::string CanonicalName(const std::string& stored);
// The transformers 4.52+ name of a canonical key (inverse of CanonicalName).
std::string NewLayoutName(const std::string& canonical);

// A checkpoint (file, directory with model.safetensors, or directory with an index and shards),
// addressed by canonical names whatever layout the files use.
class Checkpoint {
 public:
  // `path`: a .safetensors file, a model.safetensors.index.json, or a directory holding either.
  static Checkpoint Open(const std::filesystem::path& path);

  bool Has(const std::string& canonical) const { return where_.count(canonical) != 0; }
  // Throws SafetensorsError naming the tensor (and the directory) when absent.
  torch::Tensor Get(const std::string& canonical) const;
  const TensorInfo& Info(const std::string& canonical) const;
  // File holding `canonical`.
  const std::filesystem::path& FileOf(const std::string& canonical) const;
  std::vector<std::string> Names() const;  // canonical names, sorted
  // True when any key used the 4.52+ layout (model.language_model.* / model.visual.*).
  bool new_layout() const { return new_layout_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  // canonical name -> (file index, stored name)
  std::map<std::string, std::pair<size_t, std::string>> where_;
  bool new_layout_ = false;
};

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Writes one .safetensors file (tensors are made contiguous on CPU; names kept as given, written in
// the order given; header padded to 8 bytes like the Python package). metadata goes to __metadata__.
void SaveSafetensors(const NamedTensors& tensors, const std::filesystem::path& file,
                     const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

struct SaveOptions {
  // Largest shard in bytes of tensor data (transformers' max_shard_size); a tensor larger than this
  // gets a shard of its own. 0 = one file.
  uint64_t max_shard_bytes = 5ull << 30;
  bool hub_layout = true;  // rename to canonical names (model.*, visual.*); false = 4.52+ layout
};

// Writes a checkpoint into `dir` as transformers' save_pretrained does: model.safetensors when it fits
// one shard, else model-0000i-of-0000N.safetensors plus model.safetensors.index.json
// ({"metadata":{"total_size":...},"weight_map":{...}}). Returns the files written.
std::vector<std::filesystem::path> SaveCheckpoint(const NamedTensors& tensors,
                                                  const std::filesystem::path& dir,
                                                  const SaveOptions& options = {});

}  // namespace vstar::model
