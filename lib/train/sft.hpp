#pragma once
// The supervised fine-tuning recipe (vs-sft): read and validate conversations, tokenise and label
// them, then optimise the causal-LM loss with AdamW over shuffled, right-padded micro-batches with
// gradient accumulation, writing metrics, atomic checkpoints and the final model in the Hugging Face
// layout. One readable loop; the pieces live in sft_data, optim and checkpoint.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "train/dist.hpp"
#include "train/lora.hpp"
#include "train/optim.hpp"
#include "train/sft_data.hpp"

namespace CLI {
class App;
}

namespace vstar::train {

struct SftOptions {
  std::string model_dir;             // --model
  std::string output_dir;            // --output
  std::vector<std::string> inputs;   // -i/--input (JSONL files; "-" = stdin)
  int64_t max_steps = 0;             // --max-steps (0 = from --epochs)
  double epochs = 1.0;               // --epochs
  int64_t batch = 1;                 // --batch: conversations per micro-batch
  int64_t grad_accum = 1;            // --grad-accum: micro-batches per optimizer step
  uint64_t seed = 42;                // --seed: data order and the torch generator
  std::string dtype = "fp32";        // --dtype fp32|bf16 (bf16: fp32 master weights and optimizer state)
  bool resume = false;               // --resume given
  std::string resume_from;           // its value; "" or "latest" = newest checkpoint in --output
  int64_t save_steps = 0;            // --save-steps (0 = only at the end)
  int64_t keep_last = 0;             // --keep-last (0 = keep all)
  std::string metrics_file;          // --metrics ("" = stderr)
  std::string freeze = "none";       // --freeze none|vision|merger
  bool gradient_checkpointing = false;  // --gradient-checkpointing
  bool strict = false;               // --strict
  std::string log_level = "info";    // --log-level
  bool dry_run = false;              // --dry-run: print the memory plan and exit
  DataOptions data;
  OptimOptions optim;
  LoraOptions lora;
  DeviceOptions device;              // --device (as vs-grpo's)
  DistOptions dist;                  // --dist-timeout, --bucket-mb (WORLD_SIZE > 1)

  void Register(CLI::App& app);
};

struct StepMetrics {
  int64_t step = 0;  // 1-based optimizer step
  int64_t total_steps = 0;
  double epoch = 0;
  double loss = 0;
  double lr = 0;
  double grad_norm = 0;
  double tokens_per_s = 0;
  int64_t trained_tokens = 0;
  int64_t tokens = 0;
  double seconds = 0;  // wall time of the step
};

struct SftResult {
  int exit_code = 0;       // io::ExitCode
  size_t records = 0;      // read
  size_t errors = 0;       // error records (invalid, unreadable, no assistant turn)
  size_t dropped = 0;      // over --max-length and dropped (also written as error records)
  size_t truncated = 0;
  int64_t steps_run = 0;   // optimizer steps taken by this call
  std::vector<StepMetrics> metrics;  // steps taken by this call
};

// Hooks for callers embedding the recipe (tests): called after each optimizer step; returning
// false stops the run at once (no final save), as an interruption would.
struct SftHooks {
  std::function<bool(const StepMetrics&)> after_step;
};

// Data parallelism (WORLD_SIZE > 1, see train/dist.hpp): --batch is per rank, so a micro-batch of the
// shuffled stream holds batch x WORLD_SIZE conversations and rank r trains its r-th slice of them; the
// trained-token count that normalises the loss, the loss and the gradients are summed over the
// ranks, so N ranks of --batch B take the steps one process of --batch N*B takes (up to the order of
// fp32 sums). Rank 0 alone writes records, metrics, progress and checkpoints; every rank resumes
// from them.
//
// Runs the recipe. Errors that make training impossible (missing model, unwritable output, no usable
// record, a checkpoint that does not match the run) throw std::runtime_error; bad records are
// written to `error_out` as error records (the input line plus "error").
SftResult RunSft(const SftOptions& options, std::ostream& error_out, const SftHooks& hooks = {});

}  // namespace vstar::train
