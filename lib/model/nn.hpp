#pragma once
// Small building blocks shared by the vision tower and the decoder: parameters held as plain
// tensors (so autograd, dtype and device are explicit), registered by their canonical checkpoint
// names.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "model/matvec.hpp"

namespace vstar::model {

// A parameter slot: canonical checkpoint name, expected shape, and where the tensor lives.
struct ParamRef {
  std::string name;
  std::vector<int64_t> shape;
  torch::Tensor* slot = nullptr;
  struct Linear* linear = nullptr;  // the layer a ".weight" slot belongs to (for adapters)
};
using ParamRefs = std::vector<ParamRef>;

// A change of a Linear layer's output computed from its input, e.g. a LoRA adapter
// (lib/train/lora).
class LinearDelta {
 public:
  virtual ~LinearDelta() = default;
  // The layer's output given its input `x` and the base layer's output `base`.
  virtual torch::Tensor Apply(const torch::Tensor& x, const torch::Tensor& base) const = 0;
  // The tensors Apply computes with (a recomputed block needs them as inputs).
  virtual std::vector<torch::Tensor> tensors() const = 0;
};

struct Linear {
  torch::Tensor weight;                      // [out, in]
  torch::Tensor bias;                        // [out] or undefined
  std::shared_ptr<const LinearDelta> delta;  // none = the plain layer
  torch::Tensor operator()(const torch::Tensor& x) const {
    auto y = LinearForward(x, weight, bias);  // torch::linear, or the bf16 decode kernel
    return delta ? delta->Apply(x, y) : y;
  }
  // weight, bias (when defined) and the delta's tensors.
  std::vector<torch::Tensor> tensors() const {
    std::vector<torch::Tensor> t{weight};
    if (bias.defined()) t.push_back(bias);
    if (delta)
      for (auto& d : delta->tensors()) t.push_back(d);
    return t;
  }
  void Collect(ParamRefs& refs, const std::string& name, int64_t in, int64_t out, bool has_bias) {
    refs.push_back({name + ".weight", {out, in}, &weight, this});
    if (has_bias) refs.push_back({name + ".bias", {out}, &bias});
  }
};

// Gradient checkpointing, as torch.utils.checkpoint.checkpoint (use_reentrant=True,
// preserve_rng_state=True) does: fn(x) runs without autograd and keeps nothing but `x`; backward
// re-runs it with autograd under the random-generator state of the first run and back-propagates
// through the recomputation. `params`: every tensor fn computes with that may require a gradient
// (they are the function's inputs, so gradients reach them even when `x` requires none).
torch::Tensor Recomputed(const std::function<torch::Tensor(const torch::Tensor&)>& fn,
                         const torch::Tensor& x, const std::vector<torch::Tensor>& params);

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
