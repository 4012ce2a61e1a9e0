#pragma once
// Pieces every training recipe (vs-sft, vs-grpo) shares around its loop: the run directory made
// ready, the reproducible data order of each epoch, where a run starts (--resume), and the final
// model published into the run directory.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/config.hpp"
#include "train/optim.hpp"

namespace vstar::train {

// Creates `out` if needed, proves it writable, and removes the temporary directories an
// interrupted run left there (checkpoints or the final model being written). Throws
// std::runtime_error naming the directory.
void PrepareOutputDir(const std::filesystem::path& out);

// Order of the examples in `epoch`: Fisher-Yates with a generator seeded by (seed, epoch), so any
// position of any epoch is reproducible without replaying the run.
std::vector<size_t> EpochOrder(size_t n, uint64_t seed, int64_t epoch);

// Where a run starts: the base model, or a checkpoint of this very run.
struct ResumePoint {
  std::filesystem::path weights_dir;  // the base model or the checkpoint
  nlohmann::ordered_json state;       // the checkpoint's trainer_state.json; null = a fresh start
  int64_t step() const { return state.is_null() ? 0 : state["step"].get<int64_t>(); }
  nlohmann::ordered_json history() const { return state.is_null() ? nlohmann::ordered_json::array() : state["history"]; }
};
// --resume [PATH]: `resume_from` "" or "latest" = the newest checkpoint in `out` (none: a fresh start,
// with a warning). A checkpoint whose trainer state records another `identity` (options, data) is an
// error, as is a PATH that is not a directory.
ResumePoint FindResumePoint(const std::filesystem::path& out, const std::filesystem::path& base_model, bool resume,
                            const std::string& resume_from, const nlohmann::ordered_json& identity);

// The final model (config, weights in the Hub layout, the base model's tokenizer files) written to a
// temporary directory and its files moved into `out`, config.json last.
void PublishFinalModel(const std::filesystem::path& out, const model::QwenVLConfig& config, NamedParams weights,
                       const std::filesystem::path& tokenizer_dir);

}  // namespace vstar::train
