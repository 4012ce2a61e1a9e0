#pragma once
// Small building blocks shared by the vision tower and the decoder: parameters held as plain tensors
// (so autograd, dtype and device are explicit), registered by their canonical checkpoint names.
#include <string>
#include <vector>

#include <torch/torch.h>

namespace vstar::model {

// A parameter slot: canonical checkpoint name, expected shape, and where the tensor lives.
struct ParamRef {
  std::string name;
  std::vector<int64_t> shape;
  torch::Tensor* slot = nullptr;
};
using ParamRefs = std::vector<ParamRef>;

struct Linear {
  torch::Tensor weight;  // [out, in]
  torch::Tensor bias;    // [out] or undefined
  torch::Tensor operator()(const torch::Tensor& x) const { return torch::linear(x, weight, bias); }
  void Collect(ParamRefs& refs, const std::string& name, int64_t in, int64_t out, bool has_bias) {
    refs.push_back({name + ".weight", {out, in}, &weight});
    if (has_bias) refs.push_back({name + ".bias", {out}, &bias});
  }
};

// HF Qwen2RMSNorm: normalise in float32, cast back to the input dtype, then multiply by the weight.
inline torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  auto x32 = x.to(torch::kFloat32);
  auto y = x32 * torch::rsqrt(x32.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * y.to(x.scalar_type());
}

// concat(-x[..., d/2:], x[..., :d/2])
inline torch::Tensor RotateHalf(const torch::Tensor& x) {
  const int64_t h = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, h, h), x.narrow(-1, 0, h)}, -1);
}

}  // namespace vstar::model
