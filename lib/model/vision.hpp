#pragma once
// The Qwen2.5-VL vision tower (transformers modeling_qwen2_5_vl.py,
// Qwen2_5_VisionTransformerPretrainedModel): linear patch embed, 2-D rotary embedding in float32,
// window reordering, blocks with segment-wise (window or full) bidirectional attention, the patch
// merger and the final un-reordering. Eager math equal to transformers' "eager" implementation.
#include <string>
#include <vector>

#include <torch/torch.h>

#include "model/config.hpp"
#include "model/nn.hpp"
#include "model/rope_index.hpp"

namespace vstar::model {

// Intermediates of one call, for golden tests (rows in window order, as the HF forward hooks see them).
struct VisionTrace {
  torch::Tensor patch_embed;  // [S, D] processor order
  torch::Tensor rot_pos_emb;  // [S, head_dim/2] float32, processor order
  VisionWindows windows;
  std::vector<torch::Tensor> blocks;  // [S, D] window order, one per block
  torch::Tensor merger;              // [S/4, out] window order
};

// Attention computed independently inside each [cu[i], cu[i+1]) segment; q, k, v [S, heads, head_dim].
// Softmax in float32 (then cast back), scale applied to the scores as HF eager does. Returns [S, heads*head_dim].
torch::Tensor SegmentAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& cu_seqlens, double scale);

class VisionTower {
 public:
  VisionTower() = default;
  explicit VisionTower(const QwenVisionConfig& config);
  // Registers parameters under `prefix` ("visual.").
  void Collect(ParamRefs& refs, const std::string& prefix = "visual.");

  // pixel_values [S, patch_dim] float32 (cast to the weight dtype first); grid_thw [n, 3].
  // Returns [S/merge^2, out_hidden_size] in natural merged order, items one after another.
  torch::Tensor Forward(const torch::Tensor& pixel_values, const torch::Tensor& grid_thw,
                        VisionTrace* trace = nullptr) const;

  // freqs of the 2-D rotary embedding for each patch row, processor order: [S, head_dim/2] float32.
  torch::Tensor RotaryFreqs(const torch::Tensor& grid_thw) const;

  const QwenVisionConfig& config() const { return cfg_; }
  // Gradient checkpointing: under autograd each block keeps only its input and is recomputed in
  // backward (Recomputed), with the same rotary and window tensors.
  void SetGradientCheckpointing(bool on) { checkpointing_ = on; }

 private:
  struct Block {
    torch::Tensor norm1, norm2;
    Linear qkv, proj, gate, up, down;
    std::vector<torch::Tensor> tensors() const;
  };
  QwenVisionConfig cfg_;
  bool checkpointing_ = false;
  torch::Tensor patch_embed_;  // [D, C, T, P, P] as stored (Conv3d); used as [D, patch_dim]
  std::vector<Block> blocks_;
  torch::Tensor ln_q_;
  Linear mlp0_, mlp2_;
};

}  // namespace vstar::model
