#pragma once
// Optimisation pieces shared by SFT and GRPO: AdamW as torch.optim.AdamW computes it (single-tensor
// CPU path, decoupled weight decay), transformers' no-decay rule, the learning-rate schedules of
// transformers' get_*_schedule_with_warmup, and clipping by global norm as
// torch.nn.utils.clip_grad_norm_.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

namespace CLI {
class App;
}

namespace vstar::train {

using NamedParams = std::vector<std::pair<std::string, torch::Tensor>>;

struct OptimOptions {
  double lr = 5e-5;  // transformers TrainingArguments defaults throughout
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  std::string schedule = "linear";  // constant | linear | cosine
  int64_t warmup_steps = 0;
  double warmup_ratio = 0.0;  // used when warmup_steps is 0: ceil(ratio * total steps)
  double max_grad_norm = 1.0;  // 0 = no clipping

  void Register(CLI::App& app);
  int64_t Warmup(int64_t total_steps) const;
};

// transformers Trainer.get_decay_parameter_names: no weight decay for names matching bias,
// layernorm, rmsnorm, a ".norm" component or "_norm" (name patterns of transformers 4.57).
bool DecayParameter(const std::string& name);

// Multiplier of the base learning rate at optimizer step `step` (0-based), as LambdaLR applies the
// lambdas of transformers' get_constant_schedule_with_warmup / get_linear_schedule_with_warmup /
// get_cosine_schedule_with_warmup (num_cycles 0.5).
double ScheduleFactor(const std::string& schedule, int64_t step, int64_t warmup, int64_t total);

// torch.nn.utils.clip_grad_norm_(params, max_norm): returns the total 2-norm of the gradients
// before clipping; scales them by min(max_norm / (norm + 1e-6), 1) when max_norm > 0.
double ClipGradNorm(const NamedParams& params, double max_norm);

// Mixed precision as vs-sft and vs-grpo run it (--dtype bf16): the model computes with bf16 weights
// (`live`) while fp32 master copies (`master`, the optimizer's parameters) take the updates, as
// transformers' Trainer does with bf16 weights and fp32 optimizer state. Each backward pass's
// gradients are added to the masters' in fp32 (so accumulation over micro-batches or groups does
// not round to bf16) and the live gradients dropped; after the step the masters are copied into
// the live weights. With fp32 weights `live` and `master` hold the same tensors and both are
// no-ops.
void AccumulateIntoMasters(const NamedParams& live, const NamedParams& master);
void CopyMastersToLive(const NamedParams& live, const NamedParams& master);

// --dtype of vs-sft and vs-grpo.
void RegisterDtype(CLI::App& app, std::string& dtype);

class AdamW {
 public:
  AdamW(NamedParams params, const OptimOptions& options);
  // One update with learning rate `lr` from the parameters' .grad() (parameters without a gradient
  // are skipped, as torch does).
  void Step(double lr);
  void ZeroGrad();  // grads set to undefined (torch's set_to_none)

  // Per parameter "<name>.exp_avg", "<name>.exp_avg_sq" and "<name>.step" (an int64 scalar: torch
  // counts steps per parameter, and one without a gradient in a step does not advance).
  std::vector<std::pair<std::string, torch::Tensor>> State() const;
  // Restores State()'s tensors; throws naming a missing or mis-shaped entry.
  void LoadState(const std::vector<std::pair<std::string, torch::Tensor>>& state);

 private:
  struct Slot {
    std::string name;
    torch::Tensor param, exp_avg, exp_avg_sq;
    bool decay = true;
    int64_t step = 0;
  };
  std::vector<Slot> slots_;
  OptimOptions opt_;
};

}  // namespace vstar::train
