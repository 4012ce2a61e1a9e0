#pragma once
// The memory plan of a training run (vs-sft --dry-run, vs-grpo --dry-run): bytes per rank for the
// weights, the fp32 master copies, the gradients, the AdamW state and an activation estimate, all
// computed from the config.json shapes (no weights are read). Counting what this code keeps: the
// parameter counts of transformers' Qwen2_5_VLForConditionalGeneration, AdamW's two fp32 moments
// per trained parameter, and for activations the tensors an eager (non-flash) attention layer saves
// for backward, with gradient checkpointing only each block's input plus one block being
// recomputed. The optimizer state is not sharded (no ZeRO-1): every rank holds all of it.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "model/config.hpp"
#include "train/lora.hpp"

namespace vstar::train {

struct MemoryPlanInputs {
  model::QwenVLConfig config;
  int world_size = 1;
  int64_t batch =
      1;  // sequences per forward on one rank (vs-grpo: the rows of one group's forward)
  int64_t sequence = 0;  // tokens per sequence; 0 = kDefaultSequence
  bool bf16 = false;     // compute dtype bf16 (fp32 master weights and optimizer state) or fp32
  bool gradient_checkpointing = false;
  std::string freeze = "none";  // none | vision | merger
  LoraOptions lora;
  bool reference = false;  // a frozen reference copy of the weights (vs-grpo with --beta > 0)
  double bucket_mb = 25;   // the gradient all-reduce's flattened bucket (world_size > 1)
};

// A sequence length for the estimate when the run sets none: 32 frames at vs-decode's default
// budget are about 3000 video tokens, plus the prompt and the chain.
inline constexpr int64_t kDefaultSequence = 4096;

struct ParamCounts {
  int64_t vision_blocks = 0, merger = 0, patch_embed = 0;
  int64_t text = 0;  // decoder layers, norms, embedding and (untied) LM head
  int64_t total() const { return vision_blocks + merger + patch_embed + text; }
};
ParamCounts CountParameters(const model::QwenVLConfig& config);
// Parameters of the LoRA adapters `lora` attaches to the decoder (r x (in + out) per adapted
// Linear).
int64_t LoraParameters(const model::QwenVLConfig& config, const LoraOptions& lora);

struct MemoryPlan {
  MemoryPlanInputs in;
  int64_t sequence = 0;  // the length used
  int64_t parameters = 0, trainable = 0;
  double weights = 0, masters = 0, gradients = 0, optimizer = 0, reference = 0,
         buckets = 0;  // bytes
  double activations_plain = 0,
         activations_checkpointed = 0;  // bytes, without / with checkpointing
  double activations() const {
    return in.gradient_checkpointing ? activations_checkpointed : activations_plain;
  }
  double total() const {
    return weights + masters + gradients + optimizer + reference + buckets + activations();
  }
  nlohmann::ordered_json ToJson() const;
};
MemoryPlan PlanMemory(const MemoryPlanInputs& in);

// The plan as a table for a person (GiB, per rank), ending with whether it fits in 80 GB.
std::string FormatMemoryPlan(const MemoryPlan& plan);

}  // namespace vstar::train
