#!/usr/bin/env python3
"""Policy benchmark: vs-policy (LibTorch) vs transformers generate (eager and sdpa), same random model.

Model: Qwen2.5-VL with a 0.5B-class text stack (Qwen2-0.5B shape: hidden 896, 24 layers, 14 heads,
2 KV heads, vocab 151936, tied embeddings) and a shallow vision tower (4 blocks of the real width).
Prompt: a 16-frame video (112x112 frames -> 8 temporal steps x 16 tokens) and ~200 text tokens,
rendered by each side's own processor and chat template; CPU, the same thread count.
Per dtype (BENCH_DTYPES, default fp32,bf16): prefill seconds and decode tokens/s of each side (fp32
against eager and sdpa attention, bf16 against sdpa) and decode tokens/s against the read-bandwidth
bound (a measured read stream / bytes of weights read per token). In bf16 also vstar's own bf16
kernel against LibTorch's bf16 linear (VSTAR_MATVEC=libtorch) in the same build, with the greedy
agreement of the two, and batched bf16 decode (BENCH_BATCHES, default 4,8 copies of the prompt as
one batch) against generate with the same batch.

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
dtypes = os.environ.get("BENCH_DTYPES", "fp32,bf16").split(",")
batches = [int(g) for g in os.environ.get("BENCH_BATCHES", "4,8").split(",") if g]  # batched bf16 decode rows
torch.set_num_threads(threads)
work.mkdir(parents=True, exist_ok=True)
model_dir = work / ("model" if layers == 24 else f"model-{layers}-layers")
PIXELS = 112 * 112

from transformers import (AutoProcessor, Qwen2_5_VLConfig,  # noqa: E402
                          Qwen2_5_VLForConditionalGeneration)
from transformers.generation.streamers import BaseStreamer  # noqa: E402

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


def weights_bytes(model, bytes_per_weight):
    text = sum(p.numel() for n, p in model.named_parameters() if "visual" not in n)
    # per decode token: every decoder weight and the (tied) LM head once; the embedding row read is negligible
    return text * bytes_per_weight


def read_bandwidth():
    """Bytes/s of a read-only stream on `threads` threads: torch.sum of 1 GiB (each thread reads its
    own contiguous part, vectorised), best of 5. A decode step reads its weights once and writes
    almost nothing, so this, not a copy (read + write), bounds it."""
    a = torch.ones(256 << 20, dtype=torch.float32)
    best = 0.0
    for _ in range(5):
        t = time.perf_counter()
        a.sum()
        best = max(best, a.numel() * 4 / (time.perf_counter() - t))
    return best


# ---- vstar ------------------------------------------------------------------------------------------
def run_vstar(dtype, batch=1, libtorch_linear=False):
    """vs-policy on `batch` copies of the prompt as one batch: (prefill s, decode tok/s, responses).
    libtorch_linear: VSTAR_MATVEC=libtorch, LibTorch's linear; otherwise VSTAR_MATVEC=kernel, vstar's bf16
    kernel (the default where the CPU has AVX512-BF16)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), VSTAR_MATVEC="libtorch" if libtorch_linear else "kernel")
    src = work / f"in-{batch}.jsonl"
    src.write_text("".join(json.dumps(dict(record, id=f"bench-{i}")) + "\n" for i in range(batch)))
    cmd = [vs_policy, "--model", str(model_dir), "--template", str(work / "template.txt"), "--dtype", dtype,
           "--device", "cpu", "--max-new-tokens", str(new_tokens), "--video-max-pixels", str(PIXELS),
           "--batch", str(batch), "--progress", "never", "--log-level", "warn", "-i", str(src)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"vs-policy failed ({out.returncode}): {out.stderr}")
    pols = [json.loads(line)["policy"] for line in out.stdout.splitlines()]
    return pols[0]["timing"]["prefill_s"], pols[0]["timing"]["decode_tok_s"], pols


res = {"threads": threads, "new_tokens": new_tokens, "dtypes": dtypes, "batches": batches}
ours = {}
for dt in dtypes:
    pf, dec, pols = run_vstar(dt)
    ours[dt] = {"prefill_s": pf, "decode_tok_s": dec, "generated": pols[0]["tokens"],
                "response": pols[0]["response"], "prompt_tokens": pols[0]["prompt_tokens"]}
    if dt == "bf16":  # the same build with LibTorch's bf16 linear: before/after the kernel, same run
        pf, dec, pols = run_vstar(dt, libtorch_linear=True)
        ours["bf16_libtorch_linear"] = {"prefill_s": pf, "decode_tok_s": dec, "response": pols[0]["response"]}
for g in batches:
    pf, dec, _ = run_vstar("bf16", batch=g)
    ours[f"bf16_batch{g}"] = {"prefill_s": pf, "decode_tok_s": dec}
res["vstar"] = ours

# ---- transformers -----------------------------------------------------------------------------------
proc = AutoProcessor.from_pretrained(model_dir, use_fast=False)
messages = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": text}]}]
prompt = proc.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


class TokenTimes(BaseStreamer):
    """When generate handed over the prompt (times[0]) and each new token (times[1:])."""

    def __init__(self):
        self.times = []

    def put(self, value):
        self.times.append(time.perf_counter())

    def end(self):
        pass


def hf_inputs(batch):
    return proc(text=[prompt] * batch, videos=[np.stack(frames)] * batch, fps=2.0, return_tensors="pt",
                videos_kwargs={"size": {"shortest_edge": PIXELS, "longest_edge": PIXELS}, "do_resize": True})


res["prompt_tokens"] = {"vstar": ours[dtypes[0]]["prompt_tokens"], "hf": int(hf_inputs(1)["input_ids"].shape[1])}
torch_dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}
runs = [(dt, impl, 1) for dt in dtypes for impl in (["eager", "sdpa"] if dt == "fp32" else ["sdpa"])]
runs += [("bf16", "sdpa", g) for g in batches]
wb = {}
for dt, impl, g in runs:
    m = Qwen2_5_VLForConditionalGeneration.from_pretrained(model_dir, dtype=torch_dtype[dt],
                                                           attn_implementation=impl).eval()
    inputs = hf_inputs(g)
    kw = dict(do_sample=False, eos_token_id=None, pad_token_id=151643)
    with torch.no_grad():
        m.generate(**inputs, max_new_tokens=2, min_new_tokens=2, **kw)  # warm-up
        # One timed call: generate hands the prompt, then every new token, to the streamer, so prefill
        # ends at the first token and decode is the time from there to the last (no difference of two
        # separate runs, which noise can make zero or negative on a tiny model).
        stamps = TokenTimes()
        t = time.perf_counter()
        m.generate(**inputs, max_new_tokens=new_tokens, min_new_tokens=new_tokens, streamer=stamps, **kw)
    key = f"hf_{impl}_{dt}" + (f"_batch{g}" if g > 1 else "")
    prefill, decode = stamps.times[1] - t, stamps.times[-1] - stamps.times[1]
    res[key] = {"prefill_s": prefill, "decode_tok_s": g * (new_tokens - 1) / decode}
    wb[dt] = weights_bytes(m, {"fp32": 4, "bf16": 2}[dt])
    del m


def common_prefix(a, b):
    ids_a, ids_b = proc.tokenizer.encode(a), proc.tokenizer.encode(b)
    n = 0
    while n < min(len(ids_a), len(ids_b)) and ids_a[n] == ids_b[n]:
        n += 1
    return n / max(len(ids_a), len(ids_b), 1)


if "bf16" in dtypes:
    # Greedy agreement, kernel vs LibTorch's linear: the share of generated tokens before the first
    # difference (the responses re-tokenised by the model's tokenizer; equal texts give 1.0).
    res["bf16_kernel_vs_libtorch_greedy_agreement"] = common_prefix(ours["bf16"]["response"],
                                                                    ours["bf16_libtorch_linear"]["response"])
# llama.cpp on the text stack, where a Python with llama-cpp-python (BENCH_LLAMA_PYTHON) and llama.cpp's
# convert_hf_to_gguf.py (BENCH_LLAMA_CONVERT) are given; no row otherwise.
gguf_type = {"fp32": "f32", "bf16": "bf16"}
llama = {}
if os.environ.get("BENCH_LLAMA_PYTHON") and os.environ.get("BENCH_LLAMA_CONVERT"):
    (work / "prompt.txt").write_text(text)
    out = subprocess.run([sys.executable, str(Path(__file__).resolve().parent / "policy_llama.py"),
                          str(model_dir), str(work), os.environ["BENCH_LLAMA_CONVERT"], os.environ["BENCH_LLAMA_PYTHON"],
                          str(threads), str(new_tokens),
                          str(work / "prompt.txt"), *[gguf_type[dt] for dt in dtypes]],
                         capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    if out.returncode != 0:
        sys.exit(f"policy_llama.py failed ({out.returncode}): {out.stderr}")
    llama = json.loads(out.stdout.splitlines()[-1])
res["llama_cpp"] = llama
bw = read_bandwidth()
res["read_bandwidth_GBps"] = bw / 1e9
res["weight_bytes_per_token"] = wb
res["decode_bound_tok_s"] = {dt: bw / wb[dt] for dt in dtypes}
res["vstar_decode_fraction_of_bound"] = {dt: ours[dt]["decode_tok_s"] / (bw / wb[dt]) for dt in dtypes}
print(json.dumps(res, indent=2))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rows import row  # noqa: E402

import transformers  # noqa: E402

hf = f"transformers {transformers.__version__} generate"
for dt in dtypes:
    for impl in (["eager", "sdpa"] if dt == "fp32" else ["sdpa"]):
        h = res[f"hf_{impl}_{dt}"]
        row("policy", f"prefill, {dt}, 16-frame video + ~200 tokens, {threads} threads", "s", ours[dt]["prefill_s"],
            f"{hf} ({impl})", h["prefill_s"], "time")
        row("policy", f"decode, {dt}, {threads} threads", "tok/s", ours[dt]["decode_tok_s"], f"{hf} ({impl})",
            h["decode_tok_s"])
    row("policy", f"decode, {dt}, {threads} threads, fraction of the read-bandwidth bound", "tok/s",
        ours[dt]["decode_tok_s"], f"{threads}-thread read stream, {bw / 1e9:.1f} GB/s", bw / wb[dt])
    if gguf_type[dt] in llama:
        row("policy", f"decode, {dt}, {threads} threads, vs llama.cpp on the text stack alone", "tok/s",
            ours[dt]["decode_tok_s"], f"llama.cpp (llama-cpp-python {llama['version']}) {gguf_type[dt]}",
            llama[gguf_type[dt]]["decode_tok_s"])
if "bf16" in dtypes:
    row("policy", f"decode, bf16, {threads} threads, vstar's bf16 kernel vs LibTorch's bf16 linear", "tok/s",
        ours["bf16"]["decode_tok_s"], "vs-policy with VSTAR_MATVEC=libtorch", ours["bf16_libtorch_linear"]["decode_tok_s"])
for g in batches:
    row("policy", f"decode, bf16, batch {g}, {threads} threads (tokens of all rows)", "tok/s",
        ours[f"bf16_batch{g}"]["decode_tok_s"], f"{hf} (sdpa, batch {g})", res[f"hf_sdpa_bf16_batch{g}"]["decode_tok_s"])
