#pragma once
// The GRPO recipe (vs-grpo): tool-augmented two-turn rollouts with the same steps as vs-policy
// (BuildTurn1 -> sample -> RunTools -> BuildTurn2 -> sample G), rewards in process (lib/reward) or
// from a reward program, group advantages, the clipped-ratio loss with an optional k3 KL to the
// frozen base model, and AdamW; per-step metrics (reward components, KL, lengths, clip fraction,
// the tool-call rate per tool), atomic checkpoints and resumption. One readable loop; the
// arithmetic lives in grpo_loss, the optimizer in optim, the directories in checkpoint.
//
// Profiles: `clean` samples turn 1 once per rollout and trains it with its turn 2 (the joint
// trajectory carries the advantage, so the policy learns when to call a tool); `official` is the
// authors' form (Video-STAR trainer/grpo_trainer.py): one turn-1 sample shared by the group and not
// trained, their continued turn-2 context, T = 1.0 / top-p 0.95, loss grpo, beta 0.04, KL clamp 10,
// unless flags say otherwise.
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/record.hpp"
#include "policy/engine.hpp"
#include "policy/two_turn.hpp"
#include "reward/external.hpp"
#include "train/dist.hpp"
#include "train/grpo_loss.hpp"
#include "train/optim.hpp"

namespace CLI {
class App;
}

namespace vstar::train {

struct GrpoOptions {
  std::string output_dir;           // --output
  std::vector<std::string> inputs;  // -i/--input (prompt records, JSONL; "-" = stdin)
  policy::PolicyOptions policy;  // --model and the sampling flags (no --template; --dtype is ours)
  policy::TwoTurnOptions two_turn;  // --profile, --templates, --candidates, --tools, the tool flags
  DeviceOptions device;             // --device
  std::string dtype = "fp32";   // --dtype fp32|bf16 (bf16: fp32 master weights and optimizer state)
  int64_t num_generations = 4;  // --num-generations: G completions per prompt
  int64_t batch = 1;            // --batch: prompts per step
  int64_t max_steps = 10;       // --max-steps
  int64_t updates = 1;          // --updates: optimizer steps per rollout batch (TRL num_iterations)
  std::string scale = "group";  // --scale group|batch|none
  std::string variant;          // --variant paper|official ("" = the profile's)
  double tool_cost = 0.5;       // --tool-cost (paper)
  bool temporal = true;         // --temporal / --no-temporal (official)
  bool len_control = true;      // --len-control / --no-len-control (official)
  bool resume = false;          // --resume given
  std::string resume_from;      // its value; "" or "latest" = newest checkpoint in --output
  int64_t save_steps = 0;       // --save-steps (0 = only at the end)
  int64_t keep_last = 0;        // --keep-last
  std::string metrics_file;     // --metrics ("" = stderr)
  std::string log_level = "info";          // --log-level
  bool dry_run = false;                    // --dry-run: print the memory plan and exit
  GrpoLossOptions loss;                    // --loss, --beta, --epsilon, --epsilon-high, --kl-clamp
  OptimOptions optim;                      // --lr, --schedule, ...
  reward::ExternalRewardOptions external;  // --reward-cmd, --reward-timeout
  DistOptions dist;                        // --dist-timeout, --bucket-mb (WORLD_SIZE > 1)
  // Settings the command line gave (filled by Finish): they win over the profile's.
  std::vector<std::string> given_sampling;
  bool given_loss = false, given_beta = false, given_kl_clamp = false;

  void Register(CLI::App& app);
  // After parsing: records which flags were given, checks ranges (std::invalid_argument).
  void Finish(const CLI::App& app);
};

struct GrpoStepMetrics {
  int64_t step = 0;             // 1-based optimizer step
  nlohmann::ordered_json json;  // what the metrics line holds
};

struct GrpoResult {
  int exit_code = 0;
  size_t records = 0;
  int64_t steps_run = 0;
  std::vector<GrpoStepMetrics> metrics;
};

// One group of a rollout batch: what its loss needs besides the current log-probs.
struct RolloutGroup {
  torch::Tensor old_logps;   // [G, T] collected while sampling
  torch::Tensor ref_logps;   // [G, T] frozen reference; undefined when beta is 0
  torch::Tensor advantages;  // [G]
  torch::Tensor mask;        // [G, T] 1 = a trained token
};

struct UpdateLog {                      // one optimizer step
  double loss = 0;                      // summed over the groups
  double kl = std::nan("");             // mean over the groups of the masked token mean (beta != 0)
  double clip_ratio = 0;                // mean over the groups of TRL's clip_ratio/region_mean
  double ratio_min = 1, ratio_max = 1;  // exp(logp - old) over the trained tokens
  double grad_norm = 0, lr = 0;
};

// `updates` optimizer steps on one rollout batch (TRL's num_iterations). Each recomputes every
// group's log-probs with `logps(k)` (autograd on) and sums the groups' GrpoLoss (TRL's gradient
// accumulation over the generation batch: accumulation_steps = groups, dapo's token count over all
// of them), then clips the gradient norm and steps the optimizer at `lr(u)`. `params` are the
// optimizer's (fp32) parameters; with `compute` (--dtype bf16: the bf16 weights the log-probs run
// through, in the same order), each group's gradient is added to `params`' in fp32 and the updated
// masters are copied into `compute` after every step (train/optim.hpp, AccumulateIntoMasters). With
// one update the old log-probs are the current ones detached (ratio 1, as TRL); with more, the
// sampled ones, so from the second update on the ratio moves and is clipped to [1 - epsilon, 1 +
// epsilon_high]. With `dist`, `groups` are this rank's share of the rollout batch: the token count,
// the group count, the gradients and the logged statistics are summed (or min/max-ed) over the
// ranks, so every rank takes the step one process holding all the groups would take.
std::vector<UpdateLog> PolicyUpdates(const std::vector<RolloutGroup>& groups,
                                     const std::function<torch::Tensor(size_t)>& logps,
                                     const GrpoLossOptions& loss, int64_t updates,
                                     const std::function<double(int64_t)>& lr, double max_grad_norm,
                                     const NamedParams& params, AdamW& optimizer,
                                     const Dist* dist = nullptr,
                                     const NamedParams* compute = nullptr);

// Data parallelism (WORLD_SIZE > 1, see train/dist.hpp): --batch is per rank; a step's rollout
// batch is batch x WORLD_SIZE groups and rank r rolls out, scores and trains groups [r*batch,
// (r+1)*batch) of it, with the seeds of those groups' global indices, so N ranks of --batch B draw
// the rollouts one process of --batch N*B draws. A group never spans ranks; rewards are gathered so
// that advantages (and the metrics) are computed over the whole batch; each rank has its own
// reference model for the KL. Rank 0 alone writes metrics, progress and checkpoints.
//
// Runs the recipe. Unusable options, a missing model, unreadable prompts or a failing reward
// program throw std::runtime_error (the message names the cause); nothing is ever scored silently.
GrpoResult RunGrpo(const GrpoOptions& options);

}  // namespace vstar::train
