#include "train/grpo_loss.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "model/generate.hpp"

namespace vstar::train {

AdvantageScale ParseAdvantageScale(const std::string& s) {
  if (s == "group") return AdvantageScale::kGroup;
  if (s == "batch") return AdvantageScale::kBatch;
  if (s == "none") return AdvantageScale::kNone;
  throw std::invalid_argument("advantage scale must be group, batch or none, not '" + s + "'");
}

LossType ParseLossType(const std::string& s) {
  if (s == "grpo") return LossType::kGrpo;
  if (s == "bnpo") return LossType::kBnpo;
  if (s == "dr_grpo") return LossType::kDrGrpo;
  if (s == "dapo") return LossType::kDapo;
  throw std::invalid_argument("loss must be grpo, bnpo, dr_grpo or dapo, not '" + s + "'");
}

std::string Name(LossType t) {
  switch (t) {
    case LossType::kGrpo: return "grpo";
    case LossType::kBnpo: return "bnpo";
    case LossType::kDrGrpo: return "dr_grpo";
    case LossType::kDapo: return "dapo";
  }
  return "";
}

GroupAdvantages ComputeAdvantages(const torch::Tensor& rewards, int64_t group_size, AdvantageScale scale) {
  if (rewards.dim() != 1) throw std::invalid_argument("rewards must be a 1-D tensor");
  if (group_size < 2 || rewards.size(0) % group_size != 0)
    throw std::invalid_argument("rewards (" + std::to_string(rewards.size(0)) +
                                ") must be whole groups of at least 2 (group size " + std::to_string(group_size) +
                                ")");
  if (!torch::isfinite(rewards).all().item<bool>()) throw std::invalid_argument("rewards must be finite");
  // trl 1.16.0 GRPOTrainer._generate_and_score_completions (multi_objective_aggregation
  // "sum_then_normalize"): group mean always; group std for "group" (and for logging under "none"),
  // batch std for "batch"; divide by std + 1e-4 unless "none".
  auto grouped = rewards.view({-1, group_size});
  auto mean = grouped.mean(1).repeat_interleave(group_size);
  // Bessel-corrected like torch.std (TRL's nanstd computes the same factor in float32: 1e-8 apart).
  torch::Tensor std;
  if (scale == AdvantageScale::kBatch)
    std = rewards.std(/*unbiased=*/true).expand_as(rewards).contiguous();
  else
    std = grouped.std(1, /*unbiased=*/true).repeat_interleave(group_size);
  auto adv = rewards - mean;
  if (scale != AdvantageScale::kNone) adv = adv / (std + 1e-4);
  return {adv, std};
}

GrpoLossOptions GrpoLossOptions::Official() {
  GrpoLossOptions o;
  o.loss = LossType::kGrpo;
  o.loss_name_ = "grpo";
  o.beta = 0.04;
  o.kl_clamp = 10.0;
  return o;
}

void GrpoLossOptions::Register(CLI::App& app) {
  app.add_option("--loss", loss_name_,
                 "Loss aggregation as trl 1.16 defines it: grpo (per-sequence token mean), bnpo (batch token "
                 "mean), dr_grpo (sum / (B x max completion length)), dapo (sum / tokens in the generation batch)")
      ->check(CLI::IsMember({"grpo", "bnpo", "dr_grpo", "dapo"}));
  app.add_option("--beta", beta, "KL coefficient to the reference (0: no reference)")->check(CLI::NonNegativeNumber);
  app.add_option("--epsilon", epsilon_low, "Lower clipping range of the ratio (0.2)")->check(CLI::Range(0.0, 1.0));
  app.add_option("--epsilon-high", epsilon_high_flag_, "Upper clipping range (default: --epsilon; DAPO: 0.28)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--kl-clamp", kl_clamp, "Clamp ref - logp to [-C, C] before the k3 KL (0: none, as TRL; authors: 10)")
      ->check(CLI::NonNegativeNumber);
}

void GrpoLossOptions::Finish() {
  loss = ParseLossType(loss_name_);
  epsilon_high = epsilon_high_flag_ >= 0 ? epsilon_high_flag_ : epsilon_low;
  if (beta < 0 || epsilon_low < 0 || epsilon_low >= 1 || epsilon_high < 0 || kl_clamp < 0)
    throw std::invalid_argument("--beta, --epsilon, --epsilon-high, --kl-clamp must be >= 0 (--epsilon < 1)");
}

nlohmann::ordered_json GrpoStats::ToJson() const {
  nlohmann::ordered_json j;
  if (!std::isnan(kl)) j["kl"] = kl;
  j["clip_ratio/low_mean"] = clip_low_mean;
  j["clip_ratio/high_mean"] = clip_high_mean;
  j["clip_ratio/region_mean"] = clip_region_mean;
  j["clip_ratio/low_min"] = clip_low_min;
  j["clip_ratio/high_max"] = clip_high_max;
  return j;
}

namespace {

double GlobalMaskedMean(const torch::Tensor& x, const torch::Tensor& mask) {
  return ((x * mask).sum() / mask.sum().clamp_min(1.0)).item<double>();
}

// Per-sequence masked means (NaN for an empty row, as TRL's masked_seq_mean), reduced by nanmin/nanmax.
double SeqMeanExtreme(const torch::Tensor& x, const torch::Tensor& mask, bool max) {
  auto per_seq = (x * mask).sum(-1) / mask.sum(-1);
  auto valid = per_seq.masked_select(~torch::isnan(per_seq));
  if (valid.numel() == 0) return std::nan("");
  return (max ? valid.max() : valid.min()).item<double>();
}

}  // namespace

GrpoLossResult GrpoLoss(const GrpoBatch& b, const GrpoLossOptions& opt) {
  if (!b.logps.defined() || b.logps.dim() != 2) throw std::invalid_argument("logps must be [B, T]");
  if (!b.mask.defined() || b.mask.sizes() != b.logps.sizes()) throw std::invalid_argument("mask must match logps");
  if (b.old_logps.defined() && b.old_logps.sizes() != b.logps.sizes())
    throw std::invalid_argument("old_logps must match logps");
  if (opt.beta != 0.0 && (!b.ref_logps.defined() || b.ref_logps.sizes() != b.logps.sizes()))
    throw std::invalid_argument("beta != 0 needs ref_logps of the shape of logps");
  if (!b.advantages.defined() || b.advantages.size(0) != b.logps.size(0))
    throw std::invalid_argument("advantages must have one entry per sequence");
  if (opt.loss == LossType::kDrGrpo && b.max_completion_length <= 0)
    throw std::invalid_argument("dr_grpo needs max_completion_length");
  if (b.accumulation_steps < 1) throw std::invalid_argument("accumulation_steps must be >= 1");

  // trl 1.16.0 GRPOTrainer._compute_loss, importance_sampling_level "token", no vLLM correction.
  const auto& logps = b.logps;
  auto mask = b.mask.to(logps.scalar_type());
  auto adv = b.advantages.to(logps.scalar_type());
  if (adv.dim() == 1) adv = adv.unsqueeze(1);
  // With one update per generation batch the old log-probs are the current ones, detached: ratio 1,
  // gradient A·∇logp.
  auto old = b.old_logps.defined() ? b.old_logps.to(logps.scalar_type()) : logps.detach();
  auto coef_1 = torch::exp(logps - old);

  torch::Tensor per_token_kl;
  if (opt.beta != 0.0) {
    // k3 estimator exp(ref − logp) − (ref − logp) − 1; the authors clamp ref − logp to [−10, 10]
    // (Video-R1 trainer/grpo_trainer.py compute_loss), TRL does not.
    auto d = b.ref_logps.to(logps.scalar_type()) - logps;
    if (opt.kl_clamp > 0) d = torch::clamp(d, -opt.kl_clamp, opt.kl_clamp);
    per_token_kl = torch::exp(d) - d - 1;
  }

  auto coef_2 = torch::clamp(coef_1, 1 - opt.epsilon_low, 1 + opt.epsilon_high);
  auto per_token_loss = -torch::min(coef_1 * adv, coef_2 * adv);
  if (opt.beta != 0.0) per_token_loss = per_token_loss + opt.beta * per_token_kl;

  const double accum = static_cast<double>(b.accumulation_steps);
  auto masked = per_token_loss * mask;
  torch::Tensor loss;
  switch (opt.loss) {
    case LossType::kGrpo:
      loss = (masked.sum(-1) / mask.sum(-1).clamp_min(1.0)).mean() / accum;
      break;
    case LossType::kBnpo:
      loss = masked.sum() / mask.sum().clamp_min(1.0) / accum;
      break;
    case LossType::kDrGrpo:
      loss = masked.sum() / static_cast<double>(logps.size(0) * b.max_completion_length) / accum;
      break;
    case LossType::kDapo: {
      // TRL: num_items_in_batch / num_processes × accumulation / steps_per_generation, which is the
      // generation batch's token count with one process and steps_per_generation = accumulation.
      double n = b.num_items_in_batch > 0 ? b.num_items_in_batch : mask.sum().item<double>();
      loss = masked.sum() / std::max(n, 1.0);
      break;
    }
  }

  GrpoStats st;
  torch::NoGradGuard no_grad;
  if (opt.beta != 0.0) st.kl = GlobalMaskedMean(per_token_kl.detach(), mask);
  auto c1 = coef_1.detach();
  auto low = ((c1 < 1 - opt.epsilon_low) & (adv < 0)).to(mask.scalar_type());
  auto high = ((c1 > 1 + opt.epsilon_high) & (adv > 0)).to(mask.scalar_type());
  auto region = ((low + high) > 0).to(mask.scalar_type());
  st.clip_low_mean = GlobalMaskedMean(low, mask);
  st.clip_high_mean = GlobalMaskedMean(high, mask);
  st.clip_region_mean = GlobalMaskedMean(region, mask);
  st.clip_low_min = SeqMeanExtreme(low, mask, /*max=*/false);
  st.clip_high_max = SeqMeanExtreme(high, mask, /*max=*/true);
  return {loss, st};
}

torch::Tensor SelectiveLogProbs(const torch::Tensor& logits, const torch::Tensor& ids, double temperature) {
  if (!(temperature > 0)) throw std::invalid_argument("temperature must be positive");
  if (logits.dim() != ids.dim() + 1) throw std::invalid_argument("logits must be ids' shape plus a vocabulary axis");
  // trl 1.16.0 trl/trainer/utils.py selective_log_softmax: divide by the temperature, then
  // x_i − logsumexp(x) in float32/64, log_softmax + gather in lower precisions (logsumexp is unstable there).
  auto x = temperature != 1.0 ? logits / temperature : logits;
  auto index = ids.to(torch::kLong).unsqueeze(-1);
  if (x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble)
    return x.gather(-1, index).squeeze(-1) - torch::logsumexp(x, -1);
  return torch::log_softmax(x, -1).gather(-1, index).squeeze(-1);
}

torch::Tensor CompletionLogProbs(const model::QwenVL& model, const model::ModelInputs& prompt,
                                 const torch::Tensor& completion_ids, const torch::Tensor& completion_mask,
                                 double temperature) {
  const int64_t B = prompt.input_ids.size(0);
  if (completion_ids.dim() != 2 || completion_ids.size(0) != B || completion_mask.sizes() != completion_ids.sizes())
    throw std::invalid_argument("completion ids and mask must be [B, T] with the prompt's B");
  const int64_t T = completion_ids.size(1);
  // On the model's device: the prompt's tensors may still be on the host (the engine encodes
  // there).
  const auto device = model.device();
  auto ids = completion_ids.to(device, torch::kLong);
  auto mask = completion_mask.to(device, torch::kLong);
  if (T == 0) return torch::zeros({B, 0}, torch::TensorOptions().device(device));
  // The prompt with its vision inputs, then the completion as one chunk against the prompt's keys
  // (causal inside the chunk): the attention of a forward over prompt + completion, with the
  // completion's embeddings and M-RoPE positions as generation gives them (plain token embeddings,
  // text positions after the prompt's rope delta). A vision placeholder id sampled inside a
  // completion (tiny or badly trained models do) is then an ordinary token, not a slot for features
  // the prompt does not have (a plain full forward would fail or shift the positions). The rows'
  // shared prompt prefix (a group's video) runs once, as in generation; its gradient is the sum
  // over the rows.
  model::KVCache cache;
  // Hidden states at the last prompt position (predicts completion token 0) and at completion tokens
  // 0..T-2 (token t predicts token t + 1); the head runs on these T positions only.
  auto hidden = model::PrefillPrompt(model, prompt, cache, /*share_prefix=*/true, ids.narrow(1, 0, T - 1),
                                     mask.narrow(1, 0, T - 1))
                    .hidden;
  auto logits = model.LmHead(hidden);
  return SelectiveLogProbs(logits, ids, temperature).masked_fill(mask == 0, 0.0);
}

}  // namespace vstar::train
