#!/usr/bin/env python3
"""Golden fixtures for lib/train (vs-sft), from the pinned transformers/torch (tools/requirements.txt).

On the tiny model of tools/golden/qwen_tiny.py (tests/fixtures/model/tiny/model), fp32, eager, CPU:
  * records.jsonl: two SFT records (two assistant turns each, a video in the first user turn; one
    with an explicit system message, one with the template's default). Frame paths are relative to
    the repository root.
  * golden.safetensors:
      ids.<k>, labels.<k>, labels_prompt.<k>   input ids and labels of record k, built here
          independently: the chat text assembled piece by piece, tokenised with `tokenizers`, and a
          token trained when its character offsets overlap an assistant content + <|im_end|> span
          (labels_prompt: every token but the vision tokens, the authors' labels);
      loss                                    transformers' loss on the right-padded batch of both
          records with num_items_in_batch = labels.ne(-100).sum() (Trainer's count);
      grad.<name>                              gradients of selected parameters (canonical names);
      adamw.<name>.{param,grad1,grad2,after1,after2}  torch.optim.AdamW, two steps, decay and no-decay
          groups by Trainer.get_decay_parameter_names (small tensors of both groups);
      clip.<name>, clip.total_norm            torch.nn.utils.clip_grad_norm_ on those tensors' gradients;
  * expected.json: decay names (every canonical parameter name with its decay flag), the schedules
    (learning rate per step of get_{constant,linear,cosine}_schedule_with_warmup), the AdamW and
    clipping hyper-parameters, and MANIFEST data.

Usage: tools/golden/sft_goldens.py   (writes tests/fixtures/train/)
"""
import json
import re
import sys
from pathlib import Path

import numpy as np
import safetensors
import tokenizers
import torch
import transformers
from PIL import Image
from safetensors.torch import save_file
from torch import nn
from transformers import Qwen2_5_VLForConditionalGeneration
from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor
from transformers.trainer_pt_utils import get_parameter_names
from transformers.optimization import (get_constant_schedule_with_warmup, get_cosine_schedule_with_warmup,
                                       get_linear_schedule_with_warmup)

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests/fixtures/model/tiny"
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests/fixtures/train"
MEDIA = "tests/fixtures/model/tiny/media"

VSTART, VEND, IMG, VID, PAD = 1003, 1004, 1006, 1007, 1000
SELECTED = ["visual.patch_embed.proj.weight", "visual.blocks.0.attn.qkv.weight", "visual.blocks.3.mlp.down_proj.bias",
            "visual.merger.mlp.2.weight", "model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
            "model.layers.0.self_attn.k_proj.bias", "model.layers.1.mlp.down_proj.weight",
            "model.layers.1.input_layernorm.weight", "model.norm.weight", "lm_head.weight"]
# AdamW and clipping run on these (small tensors of both groups keep the fixture small).
SMALL = ["visual.blocks.3.mlp.down_proj.bias", "visual.merger.mlp.2.weight", "model.layers.0.self_attn.q_proj.weight",
         "model.layers.0.self_attn.k_proj.bias", "model.layers.1.input_layernorm.weight", "model.norm.weight"]
ADAMW = dict(lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
CLIP = 0.5


def canonical(name):
    name = re.sub(r"^model\.language_model\.", "model.", name)
    return re.sub(r"^model\.visual\.", "visual.", name)


RECORDS = [
    {"id": "golden-a", "messages": [
        {"role": "system", "content": [{"type": "text", "text": "You are a helpful assistant."}]},
        {"role": "user", "content": [
            {"type": "video", "frames": [f"{MEDIA}/vid4_{i}.png" for i in range(4)], "sample_fps": 2.0},
            {"type": "text", "text": "What is the person in the video doing? Answer with one action label."}]},
        {"role": "assistant", "content": [{"type": "text", "text": "<pose>yes</pose> <detect>no</detect>"}]},
        {"role": "user", "content": [{"type": "text", "text": "Think step by step, then answer inside <answer></answer> tags."}]},
        {"role": "assistant", "content": [{"type": "text", "text":
            "[1] The person is running.\n[2] running, jumping\n[3] running 9\n<answer>running</answer>"}]}]},
    {"id": "golden-b", "extra": {"kept": True}, "messages": [
        {"role": "user", "content": [
            {"type": "video", "frames": [f"{MEDIA}/vid6_{i}.png" for i in range(6)], "sample_fps": 2.0},
            {"type": "text", "text": "Describe the video."}]},
        {"role": "assistant", "content": "<detect>yes</detect>"},
        {"role": "user", "content": "Answer with one action label."},
        {"role": "assistant", "content": [{"type": "text", "text": "The man is riding a horse. <answer>riding</answer>"}]}]},
]


SPECIALS = {"<|endoftext|>": 1000, "<|im_start|>": 1001, "<|im_end|>": 1002, "<|vision_start|>": VSTART,
            "<|vision_end|>": VEND, "<|image_pad|>": IMG, "<|video_pad|>": VID}


def encode(tok, text):
    """ids and character offsets: text split at the special tokens (their ids as tokenizer.json lists them;
    the python package renumbers added tokens past a short vocabulary), the pieces between them BPE-encoded."""
    ids, offsets, pos = [], [], 0
    for piece in re.split("(" + "|".join(re.escape(t) for t in SPECIALS) + ")", text):
        if piece in SPECIALS:
            ids.append(SPECIALS[piece])
            offsets.append((pos, pos + len(piece)))
        elif piece:
            e = tok.encode(piece, add_special_tokens=False)
            ids += e.ids
            offsets += [(pos + b, pos + e_) for b, e_ in e.offsets]
        pos += len(piece)
    return ids, offsets


def build_text(record, video_tokens):
    """The chat template's text, pieces appended in order; returns text and the trained char spans."""
    text, spans, v = "", [], 0
    msgs = record["messages"]
    if msgs[0]["role"] != "system":
        text += "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    for m in msgs:
        text += "<|im_start|>" + m["role"] + "\n"
        start = len(text)
        items = [{"type": "text", "text": m["content"]}] if isinstance(m["content"], str) else m["content"]
        for it in items:
            if it["type"] == "video":
                text += "<|vision_start|>" + "<|video_pad|>" * video_tokens[v] + "<|vision_end|>"
                v += 1
            else:
                text += it["text"]
        text += "<|im_end|>"
        if m["role"] == "assistant":
            spans.append((start, len(text)))
        text += "\n"
    return text, spans


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    tok = tokenizers.Tokenizer.from_file(str(TINY / "model/tokenizer.json"))
    vproc = Qwen2VLVideoProcessor()
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
        TINY / "model", torch_dtype=torch.float32, attn_implementation="eager")
    model.train()  # no dropout in this config; train() as Trainer does

    g = {}
    seqs, labs, pvs, grids, spgs = [], [], [], [], []
    for k, rec in enumerate(RECORDS):
        vids, toks = [], []
        for m in rec["messages"]:
            if isinstance(m["content"], str):
                continue
            for it in m["content"]:
                if it["type"] == "video":
                    frames = [np.array(Image.open(ROOT / f).convert("RGB")) for f in it["frames"]]
                    out = vproc(videos=[torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)], return_tensors="pt",
                                do_resize=False)
                    pvs.append(out["pixel_values_videos"])
                    grids.append(out["video_grid_thw"])
                    spgs.append(vproc.temporal_patch_size / it["sample_fps"])
                    toks.append(int(out["video_grid_thw"].prod()) // 4)
        text, spans = build_text(rec, toks)
        ids, offsets = encode(tok, text)
        labels = [-100] * len(ids)
        for i, (b, e) in enumerate(offsets):
            if any(b < t and e > s for s, t in spans):
                labels[i] = ids[i]
        prompt = [-100 if t in (VSTART, VEND, IMG, VID) else t for t in ids]
        g[f"ids.{k}"] = torch.tensor(ids, dtype=torch.int64)
        g[f"labels.{k}"] = torch.tensor(labels, dtype=torch.int64)
        g[f"labels_prompt.{k}"] = torch.tensor(prompt, dtype=torch.int64)
        seqs.append(ids)
        labs.append(labels)

    L = max(len(s) for s in seqs)
    input_ids = torch.full((len(seqs), L), PAD, dtype=torch.int64)
    attn = torch.zeros((len(seqs), L), dtype=torch.int64)
    labels = torch.full((len(seqs), L), -100, dtype=torch.int64)
    for i, (s, l) in enumerate(zip(seqs, labs)):
        input_ids[i, :len(s)] = torch.tensor(s)
        attn[i, :len(s)] = 1
        labels[i, :len(l)] = torch.tensor(l)
    num_items = labels.ne(-100).sum()
    out = model(input_ids=input_ids, attention_mask=attn, pixel_values_videos=torch.cat(pvs),
                video_grid_thw=torch.cat(grids), second_per_grid_ts=torch.tensor(spgs), labels=labels,
                num_items_in_batch=num_items)
    out.loss.backward()
    g["loss"] = out.loss.detach().reshape(1)
    g["num_items"] = num_items.reshape(1)
    params = {canonical(n): p for n, p in model.named_parameters()}
    for n in SELECTED:
        g[f"grad.{n}"] = params[n].grad.detach().clone()

    # Clipping of the selected gradients.
    clip = [params[n].grad.detach().clone() for n in SMALL]
    holders = [torch.nn.Parameter(torch.zeros_like(c)) for c in clip]
    for h, c in zip(holders, clip):
        h.grad = c.clone()
    total = torch.nn.utils.clip_grad_norm_(holders, CLIP)
    g["clip.total_norm"] = total.detach().reshape(1)
    for n, h in zip(SMALL, holders):
        g[f"clip.{n}"] = h.grad.detach().clone()

    # AdamW: two steps on copies of the selected parameters, Trainer's decay groups.
    decay_names = set(canonical(n) for n in get_parameter_names(
        model, [nn.LayerNorm], [r"bias", r"layernorm", r"rmsnorm", r"(?:^|\.)norm(?:$|\.)", r"_norm(?:$|\.)"]))
    copies = {n: torch.nn.Parameter(params[n].detach().clone()) for n in SMALL}
    groups = [{"params": [copies[n] for n in SMALL if n in decay_names], "weight_decay": ADAMW["weight_decay"]},
              {"params": [copies[n] for n in SMALL if n not in decay_names], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=ADAMW["lr"], betas=ADAMW["betas"], eps=ADAMW["eps"])
    gen = torch.Generator().manual_seed(3)
    for n in SMALL:
        g[f"adamw.{n}.param"] = copies[n].detach().clone()
    for step in (1, 2):
        for n in SMALL:
            grad = params[n].grad.detach().clone() if step == 1 else torch.randn(
                copies[n].shape, generator=gen) * 1e-3
            copies[n].grad = grad
            g[f"adamw.{n}.grad{step}"] = grad.clone()
        opt.step()
        for n in SMALL:
            g[f"adamw.{n}.after{step}"] = copies[n].detach().clone()

    # Schedules: the lr of each optimizer step, as Trainer sees it (scheduler.step() after each).
    schedules = {}
    for name, fn in [("constant", get_constant_schedule_with_warmup), ("linear", get_linear_schedule_with_warmup),
                     ("cosine", get_cosine_schedule_with_warmup)]:
        for warmup in (0, 3):
            o = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=2e-3)
            s = fn(o, warmup) if name == "constant" else fn(o, warmup, 10)
            lrs = []
            for _ in range(12):
                lrs.append(o.param_groups[0]["lr"])
                o.step()
                s.step()
            schedules[f"{name}.{warmup}"] = lrs

    save_file({k: v.contiguous() for k, v in g.items()}, OUT / "golden.safetensors", metadata={"format": "pt"})
    with open(OUT / "records.jsonl", "w") as f:
        for r in RECORDS:
            f.write(json.dumps(r) + "\n")
    expected = {
        "decay": {canonical(n): canonical(n) in decay_names for n, _ in model.named_parameters()},
        "schedules": schedules, "schedule_total": 10, "schedule_lr": 2e-3,
        "adamw": {"lr": ADAMW["lr"], "beta1": ADAMW["betas"][0], "beta2": ADAMW["betas"][1], "eps": ADAMW["eps"],
                  "weight_decay": ADAMW["weight_decay"]},
        "clip_max_norm": CLIP, "selected": SELECTED, "small": SMALL,
    }
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    manifest = {
        "generator": "tools/golden/sft_goldens.py",
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                     "tokenizers": tokenizers.__version__, "safetensors": safetensors.__version__,
                     "numpy": np.__version__},
        "settings": {"model": "tests/fixtures/model/tiny/model", "device": "cpu", "dtype": "float32",
                     "attn_implementation": "eager", "threads": 1, "padding": "right, <|endoftext|>",
                     "video_processor": "Qwen2VLVideoProcessor, do_resize=False (84x56 frames)",
                     "loss": "model(..., labels, num_items_in_batch=labels.ne(-100).sum())"},
        "files": ["records.jsonl", "golden.safetensors", "expected.json"],
    }
    (OUT / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"loss {out.loss.item():.8f}, {int(num_items)} trained tokens, sequences {[len(s) for s in seqs]}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
