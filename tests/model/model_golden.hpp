#pragma once
// Access to the tiny-model goldens of tools/golden/qwen_tiny.py (tests/fixtures/model/tiny).
#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "model/processor.hpp"
#include "model/qwen_vl.hpp"
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

// A GRPO group's prompts: the golden image + video prompt, then per row the text ids of `tails[b]`
// (possibly none), left-padded with id 1000; every row carries the same image and video.
inline model::ModelInputs ImageVideoGroup(const std::vector<std::vector<int64_t>>& tails) {
  auto base = Golden::Get()["image_video.input_ids"].view({-1});
  auto img = model::ProcessImage(MediaImage("img56x84"));
  auto vid = model::ProcessVideoFiles(MediaVideo("vid4", 4), 2.0, TinyProcessor());
  const int64_t B = static_cast<int64_t>(tails.size());
  size_t longest = 0;
  for (const auto& t : tails) longest = std::max(longest, t.size());
  const int64_t L = base.size(0) + static_cast<int64_t>(longest);
  model::ModelInputs in;
  in.input_ids = torch::full({B, L}, 1000, torch::kInt64);
  in.attention_mask = torch::zeros({B, L}, torch::kInt64);
  for (int64_t b = 0; b < B; ++b) {
    auto row = torch::cat({base, torch::tensor(tails[b], torch::kInt64)});
    in.input_ids[b].narrow(0, L - row.size(0), row.size(0)).copy_(row);
    in.attention_mask[b].narrow(0, L - row.size(0), row.size(0)).fill_(1);
    in.images.Append(img);
    in.videos.Append(vid);
  }
  return in;
}

}  // namespace vstar::test
