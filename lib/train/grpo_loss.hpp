#pragma once
// GRPO's arithmetic, mirrored from a pinned TRL (trl==1.16.0, trl/trainer/grpo_trainer.py): group
// advantages (GRPOTrainer._generate_and_score_completions), the clipped-ratio policy loss with an
// optional k3 KL to a reference and its aggregations (GRPOTrainer._compute_loss), the statistics
// TRL logs from it, and per-token log-probs from logits (trl/trainer/utils.py, selective_log_softmax).
// The authors' trainer (Video-R1 trainer/grpo_trainer.py, compute_loss) is the `grpo` aggregation with
// one update per batch, beta 0.04 and the KL log-ratio clamped to [-10, 10]: GrpoLossOptions::Official.
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "model/qwen_vl.hpp"

namespace vstar::train {

enum class AdvantageScale { kGroup, kBatch, kNone };
enum class LossType { kGrpo, kBnpo, kDrGrpo, kDapo };

AdvantageScale ParseAdvantageScale(const std::string& s);  // group | batch | none
LossType ParseLossType(const std::string& s);              // grpo | bnpo | dr_grpo | dapo
std::string Name(LossType t);

struct GroupAdvantages {
  torch::Tensor advantages;  // [N]
  torch::Tensor std;         // [N]: each reward's group std (batch std for kBatch), unbiased
};
// `rewards` [N] in group-major order (N = groups × group_size). A = r − mean(group), divided by
// (std + 1e-4) unless `scale` is kNone (Dr.GRPO); std is unbiased (torch's default, TRL's nanstd);
// a group with equal rewards gets A = 0. Rewards must be finite (std::invalid_argument): a reward that
// could not be computed is an error upstream, never a silent score.
GroupAdvantages ComputeAdvantages(const torch::Tensor& rewards, int64_t group_size, AdvantageScale scale);

struct GrpoLossOptions {
  LossType loss = LossType::kDapo;  // TRL's defaults: dapo, beta 0, epsilon 0.2, epsilon_high = epsilon
  double beta = 0.0;                // 0: no KL term, no reference log-probs needed
  double epsilon_low = 0.2;
  double epsilon_high = 0.2;
  double kl_clamp = 0.0;  // > 0: clamp ref − logp to [−c, c] before the k3 estimator (the authors: 10)
  // The authors' settings (the authors' GRPO trainer and run_grpo_video_4subtol.sh): grpo, beta 0.04, clamp 10.
  static GrpoLossOptions Official();
  // --loss, --beta, --epsilon, --epsilon-high, --kl-clamp. Call Finish() after parsing.
  void Register(CLI::App& app);
  void Finish();  // --epsilon-high defaults to --epsilon; checks ranges (std::invalid_argument)

 private:
  std::string loss_name_ = "dapo";
  double epsilon_high_flag_ = -1;
};

struct GrpoBatch {
  torch::Tensor logps;       // [B, T] current policy, with autograd
  torch::Tensor old_logps;   // [B, T] at rollout time; undefined for updates K = 1 (then logps.detach())
  torch::Tensor ref_logps;   // [B, T] frozen reference; needed only when beta != 0
  torch::Tensor advantages;  // [B]
  torch::Tensor mask;        // [B, T]: 1 for completion tokens that count
  // Normalisation across a generation batch split into `accumulation_steps` micro-batches (TRL's
  // steps_per_generation = gradient_accumulation_steps, one process): grpo, bnpo and dr_grpo divide by
  // it; dapo divides by the generation batch's token count `num_items_in_batch` (0: this batch's).
  int64_t accumulation_steps = 1;
  double num_items_in_batch = 0;
  int64_t max_completion_length = 0;  // dr_grpo's denominator (B × this); required for dr_grpo
};

struct GrpoStats {  // TRL's logged names in ToJson; NaN where TRL logs nothing or nanmin has no row
  double kl = std::nan("");  // masked token mean of the (clamped) k3 KL; only when beta != 0
  double clip_low_mean = 0, clip_high_mean = 0, clip_region_mean = 0;  // masked token means
  double clip_low_min = 0, clip_high_max = 0;  // over sequences of their masked token means
  nlohmann::ordered_json ToJson() const;
};

struct GrpoLossResult {
  torch::Tensor loss;  // scalar, differentiable in batch.logps
  GrpoStats stats;
};

GrpoLossResult GrpoLoss(const GrpoBatch& batch, const GrpoLossOptions& opt);

// log softmax(logits / temperature) at `ids`: logits [..., V], ids [...] → [...]. TRL divides by the
// sampling temperature before the softmax, so rollout and training log-probs are of one distribution.
torch::Tensor SelectiveLogProbs(const torch::Tensor& logits, const torch::Tensor& ids, double temperature);

// Training-time per-token log-probs of sampled completions (TRL's _get_per_token_logps_and_entropies):
// the prompt with its vision inputs, then the whole completion as one causal chunk against the
// prompt's keys, the LM head only at the positions that predict completion tokens, then
// SelectiveLogProbs. The completion is embedded and positioned as generation does it, so a vision
// placeholder id sampled inside a completion stays an ordinary token. `prompt` is what
// model::Generate was given (left padding in its attention mask; B rows with their vision items);
// `completion_ids` [B, T] right-padded, `completion_mask` [B, T] (1 = real token). Equals the
// log-probs Generate collected with the KV cache; differentiable in the model's parameters unless
// called under a NoGradGuard. Masked positions are 0.
torch::Tensor CompletionLogProbs(const model::QwenVL& model, const model::ModelInputs& prompt,
                                 const torch::Tensor& completion_ids, const torch::Tensor& completion_mask,
                                 double temperature);

}  // namespace vstar::train
