// safetensors file headers (the bytes of a whole file) and model.safetensors.index.json: whatever is
// accepted must describe tensors inside the data section, and shards inside the checkpoint folder.
#include <string>

#include "fuzz.hpp"
#include "model/safetensors_header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vstar::model;
  try {
    SafetensorsHeader h = ParseSafetensorsHeader(data, size, "fuzz.safetensors");
    for (auto& [name, info] : h.tensors) {
      vstar::fuzz::Check(info.begin <= info.end && info.end <= size - h.data_offset);
      vstar::fuzz::Check(static_cast<uint64_t>(info.numel()) * DTypeSize(info.dtype) ==
                         info.end - info.begin);
    }
  } catch (const SafetensorsError&) {
  }
  try {
    SafetensorsIndex index =
        ParseSafetensorsIndex(std::string(vstar::fuzz::Text(data, size)), "ckpt/index.json");
    for (auto& f : index.files) {
      auto rel = f.lexically_normal().lexically_relative("ckpt");
      vstar::fuzz::Check(!rel.empty() && *rel.begin() != "..");
    }
  } catch (const SafetensorsError&) {
  }
  return 0;
}
