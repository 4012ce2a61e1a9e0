#pragma once
// A freshly initialised Qwen2.5-VL: every tensor a checkpoint of `config` holds, drawn as transformers'
// Qwen2_5_VLPreTrainedModel._init_weights draws them (modeling_qwen2_5_vl.py with
// PreTrainedModel._init_weights, transformers 4.57): linear and convolution weights ~ N(0, std),
// biases 0, embeddings ~ N(0, std) with the padding row 0, RMSNorm weights 1. Seeded, so the same
// seed gives the same checkpoint. For models trained from scratch (a miniature policy) and for tests.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "model/config.hpp"
#include "model/safetensors.hpp"

namespace vstar::model {

struct InitOptions {
  uint64_t seed = 0;
  double std = 0.02;  // config.initializer_range (0.02 in every Qwen2.5-VL config)
  int64_t padding_idx = -1;  // embedding row kept at zero (the pad token id), -1 = none
  torch::Dtype dtype = torch::kFloat32;
};

// Canonical (Hub) names in checkpoint order; an untied config gets lm_head.weight.
NamedTensors RandomWeights(const QwenVLConfig& config, const InitOptions& options = {});

}  // namespace vstar::model

namespace CLI {
class App;
}

namespace vstar::model {

// What vs-init writes: a checkpoint directory transformers and vstar load (config.json, safetensors,
// tokenizer files) with fresh weights, and a tokenizer either copied or trained on a corpus.
struct NewCheckpointOptions {
  std::string out;                  // --out DIR
  std::string config;               // --config FILE (a config.json; its token ids are replaced)
  std::string tokenizer;            // --tokenizer DIR: copy this tokenizer instead of training one
  std::vector<std::string> corpus;  // --corpus FILE...: text to train the BPE on, one document per line
  int64_t vocab_size = 1024;        // --vocab-size: BPE symbols (specials come after)
  int64_t min_frequency = 2;        // --min-frequency
  uint64_t seed = 0;                // --seed
  std::string dtype = "fp32";       // --dtype fp32|bf16 (stored dtype)
  bool force = false;               // --force: replace an existing --out

  void Register(CLI::App& app);
};

struct NewCheckpointSummary {
  int64_t parameters = 0;
  int64_t vocab = 0;       // tokenizer size (BPE + specials)
  int64_t vocab_rows = 0;  // embedding rows (vocab rounded up)
  bool trained_tokenizer = false;
};

// Writes the checkpoint into a temporary sibling of `out` and renames it into place, so an
// interrupted run leaves no half-written model. Throws std::invalid_argument for bad options.
NewCheckpointSummary WriteNewCheckpoint(const NewCheckpointOptions& options);

}  // namespace vstar::model
