#pragma once
// The Qwen2 decoder of Qwen2.5-VL (transformers modeling_qwen2_5_vl.py, Qwen2_5_VLTextModel and
// apply_multimodal_rotary_pos_emb): GQA attention with biases, M-RoPE
// with contiguous sections (cos/sin in float32, cast to the activation dtype), eager softmax in
// float32, a causal + key-padding mask, and a KV cache that stores keys after the rotation.
#include <string>
#include <vector>

#include <torch/torch.h>

#include "model/config.hpp"
#include "model/nn.hpp"

namespace vstar::model {

// Keys/values of every layer for a batch, [B, kv_heads, capacity, head_dim] buffers of which the first
// length() positions are filled. Under autograd the cache grows by concatenation instead.
class KVCache {
 public:
  int64_t length() const { return length_; }
  bool empty() const { return length_ == 0; }
  // Key padding mask of the cached positions, [B, length] bool (true = a real token).
  const torch::Tensor& key_mask() const { return key_mask_; }
  // Rope deltas of the prefill (Qwen2_5_VLModel keeps them for the decode steps), [B, 1] int64.
  torch::Tensor rope_deltas;
  // Preallocates room for `capacity` positions (optional; grows as needed).
  void Reserve(int64_t capacity) { reserve_ = capacity; }
  // Keeps only the batch rows in `rows` (e.g. finished sequences dropped or rows repeated).
  void SelectRows(const torch::Tensor& rows);

 private:
  friend class TextModel;
  // Appends [B, kvh, L, hd] for layer i; returns the full [B, kvh, T, hd] keys and values.
  std::pair<torch::Tensor, torch::Tensor> Append(size_t layer, const torch::Tensor& k, const torch::Tensor& v);
  std::vector<torch::Tensor> k_, v_;
  torch::Tensor key_mask_;
  int64_t length_ = 0;
  int64_t reserve_ = 0;
};

// Cos and sin for position ids [3, B, L]: [B, L, head_dim] in float32 (cast by the caller).
std::pair<torch::Tensor, torch::Tensor> MRopeCosSin(const torch::Tensor& position_ids,
                                                    const std::vector<int64_t>& mrope_section,
                                                    int64_t head_dim, double theta,
                                                    const torch::Device& device);

class TextModel {
 public:
  TextModel() = default;
  explicit TextModel(const QwenVLConfig& config);
  // Registers "model.embed_tokens.weight", "model.layers.*", "model.norm.weight".
  void Collect(ParamRefs& refs);

  const torch::Tensor& embed_tokens() const { return embed_; }
  torch::Tensor Embed(const torch::Tensor& input_ids) const { return torch::embedding(embed_, input_ids); }

  // inputs_embeds [B, L, H]; position_ids [3, B, L]; attention_mask [B, L] over the new tokens
  // (undefined = all real). With a cache, the new tokens attend to the cached ones and are appended.
  // `hidden_states` (optional) receives each layer's output (the last one after the final norm, as
  // HF's output_hidden_states). Returns the final normed hidden states [B, L, H].
  torch::Tensor Forward(const torch::Tensor& inputs_embeds, const torch::Tensor& position_ids,
                        const torch::Tensor& attention_mask, KVCache* cache = nullptr,
                        std::vector<torch::Tensor>* hidden_states = nullptr) const;

  const QwenVLConfig& config() const { return cfg_; }
  // Gradient checkpointing: under autograd and without a cache, each layer keeps only its input and
  // is recomputed in backward (Recomputed).
  void SetGradientCheckpointing(bool on) { checkpointing_ = on; }

 private:
  struct Layer {
    torch::Tensor input_norm, post_norm;
    Linear q, k, v, o, gate, up, down;
    std::vector<torch::Tensor> tensors() const;
  };
  QwenVLConfig cfg_;
  bool checkpointing_ = false;
  torch::Tensor embed_;
  std::vector<Layer> layers_;
  torch::Tensor norm_;
};

}  // namespace vstar::model
