#!/usr/bin/env python3
"""Policy benchmark: vs-policy (LibTorch) vs transformers generate (eager and sdpa), same random model.

Model: Qwen2.5-VL with a 0.5B-class text stack (Qwen2-0.5B shape: hidden 896, 24 layers, 14 heads,
2 KV heads, vocab 151936, tied embeddings) and a shallow vision tower (4 blocks of the real width).
Prompt: a 16-frame video (112x112 frames -> 8 temporal steps x 16 tokens) and ~200 text tokens,
rendered by each side's own processor and chat template; float32, CPU, the same thread count.
Prints prefill seconds and decode tokens/s for each side, the ratios, and decode tokens/s against the
memory-bandwidth bound (measured copy bandwidth / bytes of weights read per token).

usage: policy.py WORK_DIR VS_POLICY_BINARY QWEN_TOKENIZER_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

work, vs_policy, tok_dir = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
threads = int(os.environ.get("BENCH_THREADS", "2"))
new_tokens = int(os.environ.get("BENCH_NEW_TOKENS", "32"))
layers = int(os.environ.get("BENCH_LAYERS", "24"))  # fewer only for the smoke run (tests/bench)
torch.set_num_threads(threads)
work.mkdir(parents=True, exist_ok=True)
model_dir = work / ("model" if layers == 24 else f"model-{layers}-layers")
PIXELS = 112 * 112

from transformers import (AutoProcessor, Qwen2_5_VLConfig,  # noqa: E402
                          Qwen2_5_VLForConditionalGeneration)

if not (model_dir / "config.json").exists():
    torch.manual_seed(0)
    cfg = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=layers,
                         num_attention_heads=14, num_key_value_heads=2, rope_theta=1e6, rms_norm_eps=1e-6,
                         max_position_embeddings=32768, tie_word_embeddings=True,
                         rope_scaling={"type": "mrope", "mrope_section": [16, 8, 8]}),
        vision_config=dict(depth=4, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=896,
                           fullatt_block_indexes=[3], tokens_per_second=2, window_size=112),
        tie_word_embeddings=True)
    m = Qwen2_5_VLForConditionalGeneration(cfg).eval()
    m.save_pretrained(model_dir, safe_serialization=True)
    del m
for f in ["vocab.json", "merges.txt", "tokenizer_config.json", "chat_template.json", "preprocessor_config.json"]:
    if (tok_dir / f).exists():
        shutil.copy(tok_dir / f, model_dir / f)

frames_dir = work / "frames"
frames_dir.mkdir(exist_ok=True)
frames = []
for i in range(16):
    y, x = np.mgrid[0:112, 0:112]
    a = np.stack([(x * 2 + i * 9) % 256, (y * 3 + i) % 256, (x + y + 40 * i) % 256], -1).astype(np.uint8)
    Image.fromarray(a).save(frames_dir / f"{i:02d}.png")
    frames.append(a)
text = ("Watch the clip and describe the movement of every visible body part, frame by frame, "
        "then name the action. ") * 9
record = {"id": "bench", "frames": {"paths": [str(frames_dir / f"{i:02d}.png") for i in range(16)], "sample_fps": 2.0}}
(work / "in.jsonl").write_text(json.dumps(record) + "\n")
(work / "template.txt").write_text("{{video}}" + text + "\n")


def weights_bytes(model):
    text = sum(p.numel() for n, p in model.named_parameters() if "visual" not in n)
    # per decode token: every decoder weight and the (tied) LM head once; the embedding row read is negligible
    return text * 4


def bandwidth():
    a = np.ones(256 << 20, dtype=np.uint8)
    b = np.empty_like(a)
    best = 0.0
    for _ in range(5):
        t = time.perf_counter()
        np.copyto(b, a)
        best = max(best, 2 * a.nbytes / (time.perf_counter() - t))
    return best


# ---- vstar ------------------------------------------------------------------------------------------
env = dict(os.environ, OMP_NUM_THREADS=str(threads))
cmd = [vs_policy, "--model", str(model_dir), "--template", str(work / "template.txt"), "--dtype", "fp32",
       "--device", "cpu", "--max-new-tokens", str(new_tokens), "--video-max-pixels", str(PIXELS),
       "--progress", "never", "--log-level", "warn", "-i", str(work / "in.jsonl")]
out = subprocess.run(cmd, capture_output=True, text=True, env=env)
if out.returncode != 0:
    sys.exit(f"vs-policy failed ({out.returncode}): {out.stderr}")
pol = json.loads(out.stdout.splitlines()[0])["policy"]
ours_prefill = pol["timing"]["prefill_s"]
ours_decode = pol["timing"]["decode_tok_s"]

# ---- transformers -----------------------------------------------------------------------------------
proc = AutoProcessor.from_pretrained(model_dir, use_fast=False)
messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": text}]}]
prompt = proc.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
inputs = proc(text=[prompt], videos=[np.stack(frames)], fps=2.0, return_tensors="pt",
              videos_kwargs={"size": {"shortest_edge": PIXELS, "longest_edge": PIXELS}, "do_resize": True})
hf_prompt = int(inputs["input_ids"].shape[1])
res = {"threads": threads, "new_tokens": new_tokens, "prompt_tokens": {"vstar": pol["prompt_tokens"], "hf": hf_prompt}}
for impl in ["eager", "sdpa"]:
    m = Qwen2_5_VLForConditionalGeneration.from_pretrained(model_dir, dtype=torch.float32, attn_implementation=impl).eval()
    kw = dict(do_sample=False, eos_token_id=None, pad_token_id=151643)
    with torch.no_grad():
        m.generate(**inputs, max_new_tokens=2, min_new_tokens=2, **kw)  # warm-up
        t = time.perf_counter()
        m.generate(**inputs, max_new_tokens=1, min_new_tokens=1, **kw)
        prefill = time.perf_counter() - t
        t = time.perf_counter()
        m.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, **kw)
        total = time.perf_counter() - t
    res[f"hf_{impl}"] = {"prefill_s": prefill, "decode_tok_s": (new_tokens - 1) / max(total - prefill, 1e-9)}
    wb = weights_bytes(m)
    del m
res["vstar"] = {"prefill_s": ours_prefill, "decode_tok_s": ours_decode, "generated": pol["tokens"]}
for impl in ["eager", "sdpa"]:
    h = res[f"hf_{impl}"]
    res[f"ratio_vs_{impl}"] = {"prefill_speedup": h["prefill_s"] / ours_prefill,
                               "decode_speedup": ours_decode / h["decode_tok_s"]}
bw = bandwidth()
res["bandwidth_GBps"] = bw / 1e9
res["weight_bytes_per_token"] = wb
res["decode_bound_tok_s"] = bw / wb
res["vstar_decode_fraction_of_bound"] = ours_decode / (bw / wb)
print(json.dumps(res, indent=2))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rows import row  # noqa: E402

import transformers  # noqa: E402

for impl in ["eager", "sdpa"]:
    peer = f"transformers {transformers.__version__} generate ({impl})"
    h = res[f"hf_{impl}"]
    row("policy", f"prefill, fp32, 16-frame video + ~200 tokens, {threads} threads", "s", ours_prefill, peer,
        h["prefill_s"], "time")
    row("policy", f"decode, fp32, {threads} threads", "tok/s", ours_decode, peer, h["decode_tok_s"])
