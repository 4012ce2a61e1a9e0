#!/usr/bin/env python3
"""GRPO benchmark: one vs-grpo step vs one TRL GRPOTrainer step (trl 1.16.0), tiny model, CPU.

usage: grpo.py WORK_DIR VS_GRPO_BINARY REPO_ROOT
"""
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

work, vs_grpo, root = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
threads = int(os.environ.get("BENCH_THREADS", "2"))
G, NEW = 4, int(os.environ.get("BENCH_NEW_TOKENS", "16"))
shutil.rmtree(work, ignore_errors=True)
work.mkdir(parents=True)
model = root / "tests/fixtures/model/tiny/model"
media = root / "tests/fixtures/model/tiny/media"
prompt_text = (root / "share/vstar/profiles/clean/turn1.txt").read_text()

# vs-grpo: one step, one prompt record (4 frames), its own process so its peak RSS is its own.
rec = {"id": "bench", "label": "run", "frames": {"paths": [str(media / f"vid4_{i}.png") for i in range(4)],
                                                  "sample_fps": 2.0}}
(work / "prompts.jsonl").write_text(json.dumps(rec) + "\n")
(work / "classes.txt").write_text("run\njump\n")
env = dict(os.environ, OMP_NUM_THREADS=str(threads))
cmd = ["/usr/bin/time", "-f", "%M", vs_grpo, "--model", str(model), "--output", str(work / "vs"), "-i",
       str(work / "prompts.jsonl"), "--profile", "clean", "--candidates", str(work / "classes.txt"), "-G", str(G),
       "--max-steps", "1", "--max-new-tokens", str(NEW), "--device", "cpu", "--video-max-pixels", str(84 * 56),
       "--log-level", "error", "--metrics", str(work / "vs-metrics.jsonl")]
t = time.perf_counter()
r = subprocess.run(cmd, env=env, capture_output=True, text=True)
vs_s = time.perf_counter() - t
if r.returncode != 0:
    sys.exit(f"vs-grpo failed: {r.stderr}")
vs_rss_mb = int(r.stderr.strip().splitlines()[-1]) / 1024
vs_step_s = json.loads((work / "vs-metrics.jsonl").read_text().splitlines()[0])["seconds"]

# TRL: the same model, a text-only prompt, the same group size and completion length.
import torch  # noqa: E402
from datasets import Dataset  # noqa: E402
from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

torch.set_num_threads(threads)
tok = AutoTokenizer.from_pretrained(model)
net = Qwen2_5_VLForConditionalGeneration.from_pretrained(model, torch_dtype=torch.float32)
# The tiny tokenizer carries no chat template (vstar renders Qwen2.5-VL's own): the prompt goes to TRL
# already rendered in that format, as standard (non-conversational) text.
rendered = ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n" + prompt_text +
            "<|im_end|>\n<|im_start|>assistant\n")
data = Dataset.from_list([{"prompt": rendered}] * G)
cfg = GRPOConfig(output_dir=str(work / "trl"), per_device_train_batch_size=G, num_generations=G,
                 max_completion_length=NEW, max_steps=1, learning_rate=5e-5, beta=0.0, temperature=1.0,
                 use_cpu=True, report_to=[], save_strategy="no", logging_steps=1, seed=0, bf16=False)
trainer = GRPOTrainer(model=net, reward_funcs=[lambda completions, **kw: [float(len(str(c))) for c in completions]],
                      args=cfg, train_dataset=data, processing_class=tok)
t = time.perf_counter()
trainer.train()
trl_s = time.perf_counter() - t
trl_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

print(f"vs-grpo: {vs_s:.2f} s process ({vs_step_s:.2f} s step), peak RSS {vs_rss_mb:.0f} MB")
print(f"TRL GRPOTrainer: {trl_s:.2f} s step, peak RSS {trl_rss_mb:.0f} MB (process, model and libraries)")
print(f"step speed ratio (TRL / vs-grpo step): {trl_s / vs_step_s:.2f}x; RSS ratio (vs-grpo / TRL): "
      f"{vs_rss_mb / trl_rss_mb:.2f}x")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from rows import row  # noqa: E402

import trl  # noqa: E402

peer = f"TRL {trl.__version__} GRPOTrainer"
row("grpo", f"one GRPO step, G={G}, {NEW} new tokens, tiny model", "s", vs_step_s, peer, trl_s, "time")
row("grpo", "peak RSS", "MB", vs_rss_mb, peer, trl_rss_mb, "lower")
