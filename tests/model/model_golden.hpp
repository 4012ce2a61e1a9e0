#pragma once
// Access to the tiny-model goldens of tools/golden/qwen_tiny.py (tests/fixtures/model/tiny).
#include <filesystem>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "model/processor.hpp"
#include "model/safetensors.hpp"
#include "support.hpp"

namespace vstar::test {

inline std::filesystem::path TinyDir() { return FixtureDir() / "model" / "tiny"; }

class Golden {
 public:
  static const Golden& Get() {
    static Golden g;
    return g;
  }
  torch::Tensor operator[](const std::string& name) const {
    if (!file_->Has(name)) throw std::runtime_error("golden tensor missing: " + name);
    return file_->Get(name).clone();
  }
  bool Has(const std::string& name) const { return file_->Has(name); }

 private:
  Golden() : file_(model::SafetensorsFile::Open(TinyDir() / "golden.safetensors")) {}
  std::shared_ptr<model::SafetensorsFile> file_;
};

inline double MaxAbs(const torch::Tensor& a) { return a.abs().max().item<double>(); }
inline double MaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  return (a.to(torch::kCPU, torch::kFloat64) - b.to(torch::kCPU, torch::kFloat64)).abs().max().item<double>();
}
inline bool Same(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && a.to(torch::kCPU, torch::kInt64).equal(b.to(torch::kCPU, torch::kInt64));
}
// §10.3: max abs <= 1e-5 * (1 + max abs(ref)).
#define CHECK_CLOSE_REL(actual, ref)                                                     \
  do {                                                                                   \
    auto r_ = (ref);                                                                     \
    auto d_ = ::vstar::test::MaxDiff((actual), r_);                                      \
    INFO(#actual << " max diff " << d_ << " (ref max " << ::vstar::test::MaxAbs(r_) << ")"); \
    CHECK(d_ <= 1e-5 * (1.0 + ::vstar::test::MaxAbs(r_)));                               \
  } while (0)

inline torch::Tensor MediaImage(const std::string& name) {
  return model::LoadImageRgb(TinyDir() / "media" / (name + ".png"));
}
inline std::vector<std::filesystem::path> MediaVideo(const std::string& name, int frames) {
  std::vector<std::filesystem::path> out;
  for (int f = 0; f < frames; ++f) out.push_back(TinyDir() / "media" / (name + "_" + std::to_string(f) + ".png"));
  return out;
}
// Processor settings of the goldens: video frames keep their 56x84 size (the golden used do_resize=False).
inline model::ProcessorOptions TinyProcessor() {
  model::ProcessorOptions o;
  o.video_min_pixels = 3136;
  return o;
}

}  // namespace vstar::test
