#include "train/memory_plan.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace vstar::train {

namespace {

bool Targeted(const std::string& module, const LoraOptions& lora) {
  return std::find(lora.targets.begin(), lora.targets.end(), module) != lora.targets.end();
}

double GiB(double bytes) {
  return bytes / (1024.0 * 1024.0 * 1024.0);
}

}  // namespace

ParamCounts CountParameters(const model::QwenVLConfig& c) {
  // transformers modeling_qwen2_5_vl.py: Qwen2_5_VisionPatchEmbed (Conv3d without bias),
  // Qwen2_5_VLVisionBlock (two RMSNorms, qkv and proj with biases, a gated MLP with biases),
  // Qwen2_5_VLPatchMerger (an RMSNorm and two Linear layers with biases), Qwen2_5_VLDecoderLayer
  // (q/k/v with biases, o without, a gated MLP without biases, two RMSNorms), the final norm, the
  // embedding and, unless tied, the LM head.
  const auto& v = c.vision;
  ParamCounts p;
  p.patch_embed = v.hidden_size * v.patch_dim();
  const int64_t H = v.hidden_size, Iv = v.intermediate_size;
  const int64_t block =
      2 * H + (H * 3 * H + 3 * H) + (H * H + H) + 2 * (H * Iv + Iv) + (Iv * H + H);
  p.vision_blocks = v.depth * block;
  const int64_t M = v.merger_dim();
  p.merger = H + (M * M + M) + (M * v.out_hidden_size + v.out_hidden_size);
  const int64_t h = c.hidden_size, I = c.intermediate_size,
                kvd = c.num_key_value_heads * c.head_dim;
  const int64_t qd = c.num_attention_heads * c.head_dim;
  const int64_t layer = (h * qd + qd) + 2 * (h * kvd + kvd) + qd * h + 3 * h * I + 2 * h;
  p.text = c.num_hidden_layers * layer + h + c.vocab_size * h * (c.tie_word_embeddings ? 1 : 2);
  return p;
}

int64_t LoraParameters(const model::QwenVLConfig& c, const LoraOptions& lora) {
  if (!lora.enabled()) return 0;
  const int64_t h = c.hidden_size, I = c.intermediate_size,
                kvd = c.num_key_value_heads * c.head_dim;
  const int64_t qd = c.num_attention_heads * c.head_dim;
  const std::pair<const char*, std::pair<int64_t, int64_t>> linears[] = {
      {"q_proj", {h, qd}},   {"k_proj", {h, kvd}}, {"v_proj", {h, kvd}}, {"o_proj", {qd, h}},
      {"gate_proj", {h, I}}, {"up_proj", {h, I}},  {"down_proj", {I, h}}};
  int64_t per_layer = 0;
  for (const auto& [name, io] : linears)
    if (Targeted(name, lora)) per_layer += lora.rank * (io.first + io.second);
  return c.num_hidden_layers * per_layer;
}

MemoryPlan PlanMemory(const MemoryPlanInputs& in) {
  MemoryPlan p;
  p.in = in;
  const auto& c = in.config;
  const ParamCounts n = CountParameters(c);
  p.parameters = n.total();
  const double dt = in.bf16 ? 2.0 : 4.0;  // bytes per value in the compute dtype
  p.weights = static_cast<double>(p.parameters) * dt;
  if (in.lora.enabled()) {
    // Adapters are float32 whatever the model's dtype (train/lora.hpp): no separate masters.
    p.trainable = LoraParameters(c, in.lora);
    p.weights += static_cast<double>(p.trainable) * 4.0;
    p.gradients = static_cast<double>(p.trainable) * 4.0;
  } else {
    p.trainable = p.parameters;
    if (in.freeze == "vision") p.trainable -= n.vision_blocks + n.patch_embed;
    if (in.freeze == "merger") p.trainable -= n.vision_blocks + n.patch_embed + n.merger;
    const double t = static_cast<double>(p.trainable);
    // bf16: fp32 master copies; the bf16 gradient of a micro-batch is moved onto the master's fp32
    // one.
    p.masters = in.bf16 ? t * 4.0 : 0.0;
    p.gradients = in.bf16 ? t * (2.0 + 4.0) : t * 4.0;
  }
  p.optimizer = static_cast<double>(p.trainable) * 8.0;  // exp_avg and exp_avg_sq in fp32
  p.reference = in.reference ? static_cast<double>(p.parameters) * dt : 0.0;
  // The flattened bucket and its all-reduce result.
  p.buckets = in.world_size > 1 ? 2.0 * in.bucket_mb * 1024.0 * 1024.0 : 0.0;

  // Activations of one forward of `batch` sequences of `s` tokens. Per token and decoder layer an
  // eager layer saves about 12h + 4 kv_dim + 4I values (norm inputs and outputs, q/k/v before and
  // after rotary, k/v repeated over the query heads, the attention output, the gated MLP's four
  // I-wide tensors) plus heads x s attention probabilities; the LM head's logits [s, V] in the
  // compute dtype plus their fp32 copy and its gradient. Vision: as if every token were a video
  // token (4 patches each, an upper bound), 12H + 4Iv values per patch and block, and attention
  // over 64-patch windows (full-attention blocks over one frame pair at vs-decode's default pixel
  // budget, 3072 patches).
  p.sequence = in.sequence > 0 ? in.sequence : kDefaultSequence;
  const double s = static_cast<double>(p.sequence), B = static_cast<double>(in.batch);
  const double h = static_cast<double>(c.hidden_size), I = static_cast<double>(c.intermediate_size);
  const double kvd = static_cast<double>(c.num_key_value_heads * c.head_dim);
  const double heads = static_cast<double>(c.num_attention_heads),
               L = static_cast<double>(c.num_hidden_layers);
  const double layer = s * (12 * h + 4 * kvd + 4 * I + heads * s) * dt;
  const double logits = s * static_cast<double>(c.vocab_size) * (dt + 8.0);
  const auto& v = c.vision;
  const double patches = 4 * s, H = static_cast<double>(v.hidden_size),
               Iv = static_cast<double>(v.intermediate_size);
  const double vheads = static_cast<double>(v.num_heads);
  const double full = static_cast<double>(v.fullatt_block_indexes.size());
  const double windowed = static_cast<double>(v.depth) - full;
  const double vblock_values = 12 * H + 4 * Iv;
  const double vision_plain = patches *
                              (static_cast<double>(v.depth) * vblock_values +
                               windowed * vheads * 64 + full * vheads * 3072) *
                              dt;
  const double vision_one_block = patches * (vblock_values + vheads * 3072) * dt;
  const bool vision_trains = in.lora.enabled() ? false : in.freeze != "merger";
  // A frozen tower runs without autograd (nothing of it is saved); the merger's output still is.
  const double vision_saved = vision_trains ? vision_plain : 0.0;
  const double vision_ckpt =
      vision_trains ? patches * static_cast<double>(v.depth) * H * dt + vision_one_block : 0.0;
  p.activations_plain = B * (L * layer + logits + vision_saved);
  p.activations_checkpointed = B * (L * s * h * dt + layer + logits + vision_ckpt);
  return p;
}

nlohmann::ordered_json MemoryPlan::ToJson() const {
  auto gib = [](double b) { return std::round(GiB(b) * 100.0) / 100.0; };
  return nlohmann::ordered_json{{"world_size", in.world_size},
                                {"dtype", in.bf16 ? "bf16" : "fp32"},
                                {"lora_rank", in.lora.rank},
                                {"freeze", in.freeze},
                                {"batch", in.batch},
                                {"sequence", sequence},
                                {"gradient_checkpointing", in.gradient_checkpointing},
                                {"parameters", parameters},
                                {"trainable", trainable},
                                {"zero1", false},
                                {"gib",
                                 {{"weights", gib(weights)},
                                  {"masters", gib(masters)},
                                  {"gradients", gib(gradients)},
                                  {"optimizer", gib(optimizer)},
                                  {"reference", gib(reference)},
                                  {"buckets", gib(buckets)},
                                  {"activations", gib(activations_plain)},
                                  {"activations_checkpointed", gib(activations_checkpointed)},
                                  {"total", gib(total())}}},
                                {"fits_80gb", total() <= 80e9}};
}

std::string FormatMemoryPlan(const MemoryPlan& p) {
  std::string out;
  char line[256];
  auto row = [&](const char* what, double bytes, const char* note) {
    std::snprintf(line, sizeof line, "  %-34s %9.2f GiB  %s\n", what, GiB(bytes), note);
    out += line;
  };
  std::snprintf(line, sizeof line,
                "memory plan per rank (%d rank%s), %s, %lld parameters, %lld trained%s\n",
                p.in.world_size, p.in.world_size == 1 ? "" : "s", p.in.bf16 ? "bf16" : "fp32",
                static_cast<long long>(p.parameters), static_cast<long long>(p.trainable),
                p.in.lora.enabled() ? " (LoRA adapters)" : "");
  out += line;
  row("weights", p.weights,
      p.in.lora.enabled() ? "(model in the compute dtype, adapters fp32)" : "");
  row("fp32 master weights", p.masters, "");
  row("gradients", p.gradients,
      p.in.bf16 && !p.in.lora.enabled() ? "(fp32 on the masters + one bf16 micro-batch)" : "");
  row("AdamW state (exp_avg, exp_avg_sq)", p.optimizer,
      "not sharded: no ZeRO-1, every rank holds all of it");
  if (p.in.reference) row("frozen reference model", p.reference, "");
  if (p.buckets > 0) row("all-reduce buckets", p.buckets, "");
  std::snprintf(line, sizeof line, "%lld x %lld tokens", static_cast<long long>(p.in.batch),
                static_cast<long long>(p.sequence));
  const std::string shape = line;
  row("activations, no checkpointing", p.activations_plain,
      (shape + (p.in.gradient_checkpointing ? "" : "  <- this run")).c_str());
  row("activations, gradient checkpointing", p.activations_checkpointed,
      (shape + (p.in.gradient_checkpointing ? "  <- this run" : "")).c_str());
  row("total", p.total(), p.total() <= 80e9 ? "fits in 80 GB" : "does NOT fit in 80 GB");
  return out;
}

}  // namespace vstar::train
