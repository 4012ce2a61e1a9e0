#pragma once
// Training checkpoints. A checkpoint directory holds the weights in the Hugging Face layout (what
// transformers and vs-policy load: config.json + safetensors + the tokenizer files of the base
// model), plus optimizer.safetensors (AdamW moments and step counts), rng_state.safetensors (the
// torch CPU generator) and trainer_state.json (step, schedule, data position, metric history).
// Directories are written under a temporary name, every file and the directory fsync'ed, then
// renamed into place: a checkpoint-STEP directory is complete or absent.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "model/config.hpp"
#include "train/optim.hpp"

namespace vstar::train {

// Files copied from the base model next to the weights (those present).
const std::vector<std::string>& TokenizerFiles();

struct CheckpointContent {
  const model::QwenVLConfig* config = nullptr;
  NamedParams weights;  // canonical names; written in the Hub layout (none: no model files)
  std::filesystem::path tokenizer_dir;  // TokenizerFiles() copied from here
  NamedParams optimizer;                // AdamW::State(); empty = none (final model)
  bool rng = true;                      // save the torch CPU generator state
  torch::Device rng_device =
      torch::kCPU;  // a CUDA device: its generator's state too (dropout draws there)
  nlohmann::ordered_json trainer_state;  // null = none
  // Extra files written verbatim (name -> bytes), e.g. adapters.
  std::vector<std::pair<std::string, std::string>> extra_files;
  // Extra safetensors files (name -> tensors, names kept), e.g. a LoRA adapter.
  std::vector<std::pair<std::string, NamedParams>> tensor_files;
};

// Writes `content` into `dir` atomically (sibling temporary directory + fsync + rename; an existing
// `dir` is replaced). Throws std::runtime_error naming the file that failed.
void WriteCheckpointDir(const CheckpointContent& content, const std::filesystem::path& dir);

// Moves the files of a completed temporary directory into `dest` one rename at a time, config.json
// and adapter_config.json last (a reader finding them finds the weights), then removes `tmp`.
void PublishFiles(const std::filesystem::path& tmp, const std::filesystem::path& dest);

// checkpoint-STEP directories under `output`, ascending by step.
std::vector<std::pair<int64_t, std::filesystem::path>> ListCheckpoints(
    const std::filesystem::path& output);
// The latest, or nullopt.
std::optional<std::filesystem::path> LatestCheckpoint(const std::filesystem::path& output);
// Removes all but the newest `keep` checkpoints (keep 0 = keep all).
void PruneCheckpoints(const std::filesystem::path& output, int64_t keep);

// Reads back what WriteCheckpointDir wrote.
nlohmann::ordered_json ReadTrainerState(const std::filesystem::path& dir);
NamedParams ReadOptimizerState(const std::filesystem::path& dir);
// Restores the torch CPU generator from rng_state.safetensors (when present) and, for a CUDA
// `device`, that device's generator when the checkpoint holds one (a run written on CPU holds none:
// the CUDA generator then keeps the run's seed).
void RestoreRng(const std::filesystem::path& dir, const torch::Device& device = torch::kCPU);

// fsync of a file or directory; throws on failure.
void SyncPath(const std::filesystem::path& path);

}  // namespace vstar::train
