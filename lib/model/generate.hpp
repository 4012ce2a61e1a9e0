#pragma once
// Autoregressive generation with the KV cache (transformers GenerationMixin._sample): left-padded
// batches, greedy or sampled decoding with HF's logits-processor order and semantics (repetition
// penalty on every id already in the sequence, then temperature, top-k, top-p), stop ids, a token
// budget, a seeded CPU generator (same draws on any device), and per-token log-probabilities. Rows
// that share a prompt prefix (a GRPO group: G copies of one prompt, or G prompts that differ only after
// the video) prefill it once and expand the KV cache to the rows.
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
  // Prefill the rows' common prompt prefix once (PrefillPrompt); false runs every row's prompt on its
  // own row, transformers' way (the reference the shared prefill is tested against).
  bool share_prefix = true;
};

struct GenerationResult {
  std::vector<std::vector<int64_t>> tokens;  // per row: generated ids, the stop id included
  // per row: log p(token) under log_softmax(raw logits / temperature) (temperature 1 when greedy):
  // the quantity a training-time full forward recomputes (GRPO).
  std::vector<std::vector<float>> logprobs;
  std::vector<std::string> finish_reasons;  // "stop" or "length"
  torch::Tensor step_logits;                // [B, steps, V] float32 when keep_logits
  int64_t prompt_tokens = 0;                // L of the (padded) prompt
  int64_t prompt_rows = 0;                  // distinct prompts prefilled (PrefillPrompt)
  int64_t shared_prefix = 0;                // prompt tokens prefilled once for all of them
  double prefill_seconds = 0;
  double decode_seconds = 0;
  int64_t decode_steps = 0;  // forward passes after the prefill
};

// Applies HF's processors in order to float32 scores [B, V] in place of a copy: repetition penalty
// over `seen` ids [B, n] (n may be 0), then (when sampling) temperature, top-k and top-p.
torch::Tensor ProcessLogits(const torch::Tensor& scores, const torch::Tensor& seen, const SamplingOptions& opt);

// Runs a left-padded prompt batch (B rows with their vision items in row order) into the empty
// `cache`; returns the final hidden states from each row's last prompt position on. With
// `share_prefix`, rows with equal prompts (the same ids and vision items: a GRPO group's G copies)
// run as one row, and when the distinct prompts begin with the same ids holding the same vision
// items, with no vision placeholder after them (a group's turn 2, whose texts part after the video),
// that prefix runs once: the vision tower and the prompt run once per distinct prompt or prefix, and
// the KV cache is expanded to the rows (KVCache::SelectRows). A row's rest after the shared prefix is
// left-padded inside the sequence: the padding keys are masked and the row's rope delta lowered by
// the padding, so every real token keeps the position and attention of the unshared forward.
// Otherwise the batch is one plain prefill. `then_ids` [B, T] (right-padded, `then_mask` 1 = real;
// optional) continue every row against the cache: the training-time forward of sampled completions.
// Differentiable unless called under a NoGradGuard (the shared parts get the sum of the rows' gradients).
struct Prefilled {
  torch::Tensor hidden;       // [B, 1 + T, H]
  int64_t prompt_rows = 0;    // distinct prompts run (B for a plain prefill)
  int64_t shared_prefix = 0;  // prompt tokens run once for all of them (0: none)
};
Prefilled PrefillPrompt(const QwenVL& model, const ModelInputs& prompt, KVCache& cache, bool share_prefix,
                        const torch::Tensor& then_ids = {}, const torch::Tensor& then_mask = {});

// Two left-padded prompt batches as one: the rows of `a`, then those of `b`, left-padded with `pad_id`
// to the longer; vision items in that order (both without explicit position ids).
ModelInputs JoinBatches(const ModelInputs& a, const ModelInputs& b, int64_t pad_id);

// Generates for a prompt batch (left padding in inputs.attention_mask). Vision inputs are used by the prefill.
GenerationResult Generate(const QwenVL& model, const ModelInputs& inputs, const SamplingOptions& options);

}  // namespace vstar::model
