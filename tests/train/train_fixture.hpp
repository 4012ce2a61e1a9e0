#pragma once
// Shared by the tests of lib/train: the tiny model, the golden records of tools/golden/sft_goldens.py
// with their frame paths made absolute, and tensor comparisons.
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "io/record.hpp"
#include "model/safetensors.hpp"
#include "support.hpp"

namespace vstar::test {

inline std::filesystem::path TinyModelDir() { return FixtureDir() / "model" / "tiny" / "model"; }
inline std::filesystem::path TrainFixtures() { return FixtureDir() / "train"; }
// The tiny frames are 84x56: this budget keeps them at their size (no resize), as the goldens do.
inline constexpr int64_t kTinyVideoPixels = 84 * 56;

// Frame paths of a record (relative to the repository root in the fixture) made absolute.
inline io::Json Absolute(io::Json rec) {
  for (auto& m : rec["messages"]) {
    if (!m["content"].is_array()) continue;
    for (auto& it : m["content"]) {
      if (it.value("type", "") == "video")
        for (auto& f : it["frames"]) f = (SourceDir() / f.get<std::string>()).string();
      if (it.value("type", "") == "image") it["path"] = (SourceDir() / it["path"].get<std::string>()).string();
    }
  }
  return rec;
}

inline std::vector<io::Json> GoldenRecords() {
  std::vector<io::Json> out;
  for (const auto& line : Lines(ReadFile(TrainFixtures() / "records.jsonl")))
    if (!line.empty()) out.push_back(Absolute(io::Json::parse(line)));
  return out;
}

inline std::vector<int64_t> ToVector(const torch::Tensor& t) {
  auto c = t.to(torch::kCPU, torch::kInt64).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// ||a - b|| / ||b|| in float64.
inline double RelErr(const torch::Tensor& a, const torch::Tensor& b) {
  auto a64 = a.detach().to(torch::kCPU, torch::kFloat64), b64 = b.detach().to(torch::kCPU, torch::kFloat64);
  REQUIRE(a64.sizes() == b64.sizes());
  const double den = b64.norm().item<double>();
  return (a64 - b64).norm().item<double>() / (den > 0 ? den : 1.0);
}

}  // namespace vstar::test
