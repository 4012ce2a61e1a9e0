#!/usr/bin/env python3
"""Golden vectors for lib/train/grpo_loss (GRPO advantages, policy loss, per-token log-probs).

Pinned to trl 1.16.0 (tools/requirements.txt). What is called and what is restated:
- Policy loss, its gradient with respect to the per-token log-probs, and the logged statistics: TRL's
  own `GRPOTrainer._compute_loss` (trl/trainer/grpo_trainer.py), called on a trainer object built
  without `__init__` whose `_get_per_token_logps_and_entropies` returns our fixed log-probs. Every
  loss type we mirror (grpo, bnpo, dr_grpo, dapo) x beta in {0, 0.04} x updates K = 1 (no old
  log-probs: TRL detaches the current ones) and K > 1 (old log-probs != current, so the ratio clips).
- The authors' form (Video-R1 / Video-STAR trainer/grpo_trainer.py compute_loss: k3 KL with the
  log-ratio clamped to [-10, 10], ratio exp(logp - logp.detach()), per-sequence token mean then batch
  mean): not in TRL, restated line by line below (`authors_loss`).
- Advantages: TRL computes them inline in `_generate_and_score_completions`, not callable on its own;
  restated line by line (`trl_advantages`) with TRL's own `nanstd` (trl/trainer/utils.py).
- Per-token log-probs from logits: TRL's own `selective_log_softmax(logits, index, temperature)`
  (trl/trainer/utils.py), which divides the logits by the sampling temperature first, and its
  gradient with respect to the logits.

Everything runs in float64 on CPU; the inputs are float32 values (stored exactly), so the C++ test can
run them in either precision.

Usage: tools/golden/grpo_goldens.py [OUT_DIR]   (default tests/fixtures/train/grpo)
"""
import json
import platform
import sys
import types
from collections import defaultdict
from pathlib import Path

import accelerate
import torch
import trl
from accelerate import Accelerator
from trl import GRPOTrainer
from trl.trainer.utils import nanstd, selective_log_softmax

SEED = 20261201
G = 4          # generations per group
GROUPS = 3
B = G * GROUPS
T = 6          # completion length (padded)
MAX_COMPLETION_LENGTH = 8  # dr_grpo's denominator
EPS_LOW, EPS_HIGH = 0.2, 0.28
BETA = 0.04
AUTHORS_KL_CLAMP = 10.0


def f32(t):
    """Round to float32, then widen: the stored numbers are exact in both precisions."""
    return t.float().double()


def make_batch(gen):
    logps = f32(-3.0 * torch.rand(B, T, generator=gen, dtype=torch.float64) - 0.01)
    old = f32(logps + 0.5 * torch.randn(B, T, generator=gen, dtype=torch.float64))
    ref = f32(logps + 0.7 * torch.randn(B, T, generator=gen, dtype=torch.float64))
    # For the authors' form: tokens far from the reference, so their clamp of the log-ratio to [-10, 10]
    # matters (kept out of the TRL cases, where such a token's exp(12.5) would drown the policy term).
    ref_far = ref.clone()
    ref_far[0, 1] = logps[0, 1] + 12.5
    ref_far[4, 2] = logps[4, 2] - 11.0
    ref_far[5, 0] = logps[5, 0] + 10.5
    lengths = [6, 3, 5, 0, 2, 6, 4, 1, 6, 5, 3, 2]  # row 3 fully masked (e.g. a masked truncated completion)
    mask = torch.zeros(B, T, dtype=torch.float64)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    rewards = f32(torch.tensor([1.0, 0.0, 2.5, 0.3,    # group 0
                                0.2, 3.1, 1.0, 1.7,    # group 1
                                1.2, 1.2, 1.2, 1.2],   # group 2: all equal, std 0
                               dtype=torch.float64))
    return logps, old, ref, ref_far, mask, rewards


# ---- advantages: trl 1.16.0 GRPOTrainer._generate_and_score_completions, sum_then_normalize ----
def trl_advantages(rewards, num_generations, scale_rewards):
    mean_grouped_rewards = torch.nanmean(rewards.view(-1, num_generations), dim=1)
    mean_grouped_rewards = mean_grouped_rewards.repeat_interleave(num_generations, dim=0)
    if scale_rewards in ["group", "none"]:
        std_rewards = nanstd(rewards.view(-1, num_generations), dim=1)
        std_rewards = std_rewards.repeat_interleave(num_generations, dim=0)
    elif scale_rewards == "batch":
        std_rewards = nanstd(rewards).expand_as(rewards)
    advantages = rewards - mean_grouped_rewards
    if scale_rewards != "none":
        advantages = advantages / (std_rewards + 1e-4)
    advantages = torch.nan_to_num(advantages, nan=0.0)
    return advantages, std_rewards


# ---- policy loss: TRL's own _compute_loss on a trainer built without __init__ ----
_ACCELERATOR = None


def trl_trainer(loss_type, beta, accumulation_steps):
    global _ACCELERATOR
    if _ACCELERATOR is None:
        _ACCELERATOR = Accelerator(cpu=True)
    t = GRPOTrainer.__new__(GRPOTrainer)
    t.accelerator = _ACCELERATOR
    t.args = types.SimpleNamespace(use_bias_correction_kl=False, delta=None,
                                   steps_per_generation=accumulation_steps)
    t.model = torch.nn.Linear(1, 1)  # only .training is read (True: "train" mode)
    t.loss_type = loss_type
    t.beta = beta
    t.epsilon_low, t.epsilon_high = EPS_LOW, EPS_HIGH
    t.importance_sampling_level = "token"
    t.top_entropy_quantile = 1.0
    t.off_policy_mask_threshold = None
    t.use_vllm = False
    t.vllm_importance_sampling_correction = False
    t.aux_loss_enabled = False
    t._entropy_bonus_enabled = False
    t.max_completion_length = MAX_COMPLETION_LENGTH
    t.current_gradient_accumulation_steps = accumulation_steps
    t._metrics = {"train": defaultdict(list), "eval": defaultdict(list)}
    return t


def trl_loss(loss_type, beta, updates, logps0, old, ref, mask, advantages, accumulation_steps=1,
             num_items_in_batch=None):
    t = trl_trainer(loss_type, beta, accumulation_steps)
    logps = logps0.clone().requires_grad_(True)
    t._get_per_token_logps_and_entropies = lambda *a, **k: (logps, torch.zeros_like(logps), None)
    inputs = {
        "prompt_ids": torch.zeros(B, 2, dtype=torch.long),
        "prompt_mask": torch.ones(B, 2, dtype=torch.long),
        "completion_ids": torch.zeros(B, T, dtype=torch.long),
        "completion_mask": mask,
        "advantages": advantages,
        "num_items_in_batch": mask.sum() if num_items_in_batch is None else torch.tensor(num_items_in_batch,
                                                                                       dtype=torch.float64),
    }
    if updates > 1:
        inputs["old_per_token_logps"] = old
    if beta != 0.0:
        inputs["ref_per_token_logps"] = ref
    loss = t._compute_loss(None, inputs)
    loss.backward()
    m = t._metrics["train"]
    stats = {k: m[k][0] for k in ["clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean",
                                  "clip_ratio/low_min", "clip_ratio/high_max"]}
    if beta != 0.0:
        stats["kl"] = m["kl"][0]
    return loss.item(), logps.grad.tolist(), stats


# ---- the authors' loss (Video-R1 trainer/grpo_trainer.py compute_loss), restated line by line ----
def authors_loss(beta, logps0, ref, mask, advantages):
    per_token_logps = logps0.clone().requires_grad_(True)
    x = torch.clamp(ref - per_token_logps, min=-AUTHORS_KL_CLAMP, max=AUTHORS_KL_CLAMP)
    per_token_kl = torch.exp(x) - x - 1
    per_token_loss = torch.exp(per_token_logps - per_token_logps.detach()) * advantages.unsqueeze(1)
    per_token_loss = -(per_token_loss - beta * per_token_kl)
    loss = ((per_token_loss * mask).sum(dim=1) / mask.sum(dim=1)).mean()
    loss.backward()
    kl = ((per_token_kl * mask).sum(dim=1) / mask.sum(dim=1)).mean()
    return loss.item(), per_token_logps.grad.tolist(), {"kl_seq_mean": kl.item()}


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "tests/fixtures/train/grpo"
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)
    logps, old, ref, ref_far, mask, rewards = make_batch(gen)

    adv_cases = []
    for scale in ["group", "batch", "none"]:
        a, s = trl_advantages(rewards, G, scale)
        adv_cases.append({"scale": scale, "advantages": a.tolist(), "std": s.tolist()})
    advantages, _ = trl_advantages(rewards, G, "group")

    loss_cases = []
    for loss_type in ["grpo", "bnpo", "dr_grpo", "dapo"]:
        for beta in [0.0, BETA]:
            for updates in [1, 2]:
                loss, grad, stats = trl_loss(loss_type, beta, updates, logps, old, ref, mask, advantages)
                loss_cases.append({"source": "trl", "loss": loss_type, "beta": beta, "updates": updates,
                                   "accumulation_steps": 1, "num_items_in_batch": None, "kl_clamp": 0.0,
                                   "value": loss, "grad": grad, "stats": stats})
    # One generation batch split into two accumulation steps: grpo/bnpo/dr_grpo divide by 2, dapo by the
    # generation batch's token count (given, not this micro-batch's).
    for loss_type in ["grpo", "dapo"]:
        n_items = float(mask.sum().item() * 2 + 3)
        loss, grad, stats = trl_loss(loss_type, BETA, 2, logps, old, ref, mask, advantages, accumulation_steps=2,
                                     num_items_in_batch=n_items)
        loss_cases.append({"source": "trl", "loss": loss_type, "beta": BETA, "updates": 2, "accumulation_steps": 2,
                           "num_items_in_batch": n_items, "kl_clamp": 0.0, "value": loss, "grad": grad,
                           "stats": stats})
    # The authors' form: every completion has at least its EOS token (their mask runs up to and including
    # the first EOS), so give the fully-masked row one token; their mask.sum(dim=1) is not clamped.
    authors_mask = mask.clone()
    authors_mask[3, 0] = 1
    for beta in [0.0, BETA]:
        loss, grad, stats = authors_loss(beta, logps, ref_far, authors_mask, advantages)
        loss_cases.append({"source": "authors", "loss": "grpo", "beta": beta, "updates": 1, "accumulation_steps": 1,
                           "num_items_in_batch": None, "kl_clamp": AUTHORS_KL_CLAMP, "mask": authors_mask.tolist(),
                           "ref_logps": ref_far.tolist(),
                           "value": loss, "grad": grad, "stats": stats})

    # Per-token log-probs from logits, temperature-divided (selective_log_softmax), and their gradient for a
    # fixed upstream weight.
    V, LB, LT = 11, 3, 5
    logprob_cases = []
    for temperature in [1.0, 0.7]:
        logits = f32(4.0 * torch.randn(LB, LT, V, generator=gen, dtype=torch.float64)).requires_grad_(True)
        ids = torch.randint(0, V, (LB, LT), generator=gen)
        weight = f32(torch.randn(LB, LT, generator=gen, dtype=torch.float64))
        lp = selective_log_softmax(logits, ids, temperature=temperature)
        (lp * weight).sum().backward()
        logprob_cases.append({"temperature": temperature, "logits": logits.detach().tolist(), "ids": ids.tolist(),
                              "weight": weight.tolist(), "logps": lp.detach().tolist(),
                              "grad_logits": logits.grad.tolist()})

    fixture = {
        "group_size": G, "epsilon_low": EPS_LOW, "epsilon_high": EPS_HIGH,
        "max_completion_length": MAX_COMPLETION_LENGTH,
        "logps": logps.tolist(), "old_logps": old.tolist(), "ref_logps": ref.tolist(), "mask": mask.tolist(),
        "rewards": rewards.tolist(), "advantages": advantages.tolist(),
        "advantage_cases": adv_cases, "loss_cases": loss_cases, "logprob_cases": logprob_cases,
    }
    (out / "cases.json").write_text(json.dumps(fixture) + "\n")
    manifest = {
        "script": "tools/golden/grpo_goldens.py",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "trl": trl.__version__,
        "accelerate": accelerate.__version__,
        "dtype": "float64 (inputs are float32 values)",
        "seed": SEED,
        "batch": {"groups": GROUPS, "group_size": G, "completion_length": T,
                  "max_completion_length": MAX_COMPLETION_LENGTH},
        "settings": {"epsilon_low": EPS_LOW, "epsilon_high": EPS_HIGH, "beta": [0.0, BETA],
                     "importance_sampling_level": "token", "authors_kl_clamp": AUTHORS_KL_CLAMP},
        "called": ["trl GRPOTrainer._compute_loss", "trl.trainer.utils.selective_log_softmax",
                   "trl.trainer.utils.nanstd"],
        "restated": ["advantages (GRPOTrainer._generate_and_score_completions)",
                     "the authors' loss with the clamped k3 KL"],
        "loss_cases": len(loss_cases),
    }
    (out / "cases.manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {out}/cases.json: {len(loss_cases)} loss cases, {len(adv_cases)} advantage cases, "
          f"{len(logprob_cases)} log-prob cases")


if __name__ == "__main__":
    main()
