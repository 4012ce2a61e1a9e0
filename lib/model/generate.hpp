#pragma once
// Autoregressive generation with the KV cache (transformers GenerationMixin._sample): left-padded
// batches, greedy or sampled decoding with HF's logits-processor order and semantics (repetition
// penalty on every id already in the sequence, then temperature, top-k, top-p), stop ids, a token
// budget, a seeded CPU generator (same draws on any device), and per-token log-probabilities.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "model/qwen_vl.hpp"

namespace vstar::model {

struct SamplingOptions {
  int64_t max_new_tokens = 128;
  bool do_sample = false;           // false (or temperature 0): greedy after the repetition penalty
  double temperature = 1.0;
  int64_t top_k = 0;                // 0 = off
  double top_p = 1.0;               // 1 = off
  double repetition_penalty = 1.0;  // 1 = off
  std::vector<int64_t> stop_ids;    // a row finishes after emitting one of these
  int64_t pad_token_id = 0;         // fed to finished rows
  uint64_t seed = 0;
  bool keep_logits = false;         // return the raw float32 logits of every step (tests, debugging)
};

struct GenerationResult {
  std::vector<std::vector<int64_t>> tokens;  // per row: generated ids, the stop id included
  // per row: log p(token) under log_softmax(raw logits / temperature) (temperature 1 when greedy):
  // the quantity a training-time full forward recomputes (GRPO).
  std::vector<std::vector<float>> logprobs;
  std::vector<std::string> finish_reasons;  // "stop" or "length"
  torch::Tensor step_logits;                // [B, steps, V] float32 when keep_logits
  int64_t prompt_tokens = 0;                // L of the (padded) prompt
  double prefill_seconds = 0;
  double decode_seconds = 0;
  int64_t decode_steps = 0;  // forward passes after the prefill
};

// Applies HF's processors in order to float32 scores [B, V] in place of a copy: repetition penalty
// over `seen` ids [B, n] (n may be 0), then (when sampling) temperature, top-k and top-p.
torch::Tensor ProcessLogits(const torch::Tensor& scores, const torch::Tensor& seen, const SamplingOptions& opt);

// Generates for a prompt batch (left padding in inputs.attention_mask). Vision inputs are used by the prefill.
GenerationResult Generate(const QwenVL& model, const ModelInputs& inputs, const SamplingOptions& options);

}  // namespace vstar::model
