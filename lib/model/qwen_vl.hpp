#pragma once
// Qwen2_5_VLForConditionalGeneration (transformers modeling_qwen2_5_vl.py) in LibTorch: weights
// from a Hugging Face checkpoint (either key layout, sharded or not, tied or untied head), the
// vision tower, the embedding scatter of image/video features, M-RoPE positions, the decoder and
// the LM head; the causal-LM loss. Autograd works through everything (the vision tower is trained
// through the scatter).
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "model/config.hpp"
#include "model/processor.hpp"
#include "model/rope_index.hpp"
#include "model/safetensors.hpp"
#include "model/text.hpp"
#include "model/vision.hpp"

namespace vstar::model {

struct LoadOptions {
  torch::Dtype dtype = torch::kFloat32;  // compute/weight dtype: kFloat32 or kBFloat16
  torch::Device device = torch::kCPU;
  TemporalIndexMode temporal_index_mode = TemporalIndexMode::kFloatThenTrunc;
};

// One forward's inputs. Images and videos are the processor outputs in prompt order.
struct ModelInputs {
  torch::Tensor input_ids;       // [B, L] int64
  torch::Tensor attention_mask;  // [B, L] (undefined = all ones); left padding for generation
  VisionInput images;
  VisionInput videos;
  torch::Tensor position_ids;  // [3, B, L] (undefined = computed with GetRopeIndex)
};

struct ForwardOptions {
  bool output_hidden_states = false;
  bool last_logits_only = false;  // logits of the last position only ([B, 1, V])
  KVCache* cache = nullptr;       // prefill when empty, decode step otherwise
};

struct ForwardOutput {
  torch::Tensor logits;         // [B, L, V] in the model dtype (HF returns bf16 logits in bf16)
  torch::Tensor inputs_embeds;  // after the scatter
  std::vector<torch::Tensor>
      hidden_states;           // per decoder layer (the last one after the final norm)
  torch::Tensor position_ids;  // [3, B, L]
  torch::Tensor rope_deltas;   // [B, 1]
  torch::Tensor hidden;        // final normed hidden states [B, L, H]
};

class QwenVL {
 public:
  // `dir`: a checkpoint directory (config.json + safetensors). Throws with the file/tensor named
  // when weights are missing or have the wrong shape.
  static QwenVL Load(const std::filesystem::path& dir, const LoadOptions& options = {});
  // From an already parsed config and an opened checkpoint.
  static QwenVL Load(const QwenVLConfig& config, const Checkpoint& checkpoint,
                     const LoadOptions& options = {});

  const QwenVLConfig& config() const { return cfg_; }
  const LoadOptions& options() const { return opt_; }
  torch::Dtype dtype() const { return opt_.dtype; }
  torch::Device device() const { return opt_.device; }
  const VisionTower& vision() const { return vision_; }
  const TextModel& text() const { return text_; }
  RopeIndexParams rope_params() const;

  // Image/video features scattered into the token embeddings (Qwen2_5_VLModel.forward's
  // masked_scatter); counts must match exactly.
  torch::Tensor EmbedInputs(const ModelInputs& in) const;
  // Full forward. With a non-empty cache, input_ids are the new tokens and positions are
  // cache length + rope delta (as Qwen2_5_VLModel.forward with cached rope_deltas); vision inputs
  // are ignored then.
  ForwardOutput Forward(const ModelInputs& in, const ForwardOptions& options = {}) const;
  torch::Tensor LmHead(const torch::Tensor& hidden) const {
    return LinearForward(hidden, lm_head_);
  }

  // Every trainable tensor by canonical (Hub) name; a tied head is listed once (as the embedding).
  std::vector<std::pair<std::string, torch::Tensor>> NamedParameters() const;
  void SetRequiresGrad(bool requires_grad);
  // The Linear layers by canonical module name ("model.layers.0.self_attn.q_proj",
  // "visual.blocks.0.attn.qkv"; the LM head is a plain tensor), for adapters to attach to.
  std::vector<std::pair<std::string, Linear*>> Linears();
  // Gradient checkpointing of the decoder layers and the vision blocks (training only).
  void SetGradientCheckpointing(bool on) {
    text_.SetGradientCheckpointing(on);
    vision_.SetGradientCheckpointing(on);
  }
  bool tied() const { return tied_; }

 private:
  QwenVLConfig cfg_;
  LoadOptions opt_;
  VisionTower vision_;
  TextModel text_;
  torch::Tensor lm_head_;
  bool tied_ = false;
  // Slots of every loaded tensor (pointers into this object; rebuilt on demand so moves are safe).
  ParamRefs Refs() const;
};

// HF ForCausalLMLoss: logits in float32, labels shifted left by one (-100 ignored), mean over the
// non-ignored tokens, or sum / num_items_in_batch when num_items_in_batch > 0.
torch::Tensor CausalLmLoss(const torch::Tensor& logits, const torch::Tensor& labels,
                           int64_t num_items_in_batch = 0);

}  // namespace vstar::model
