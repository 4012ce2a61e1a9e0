#!/usr/bin/env python3
"""SFT benchmark: vs-sft (LibTorch) vs transformers' Trainer on the same tiny model and records.

Both train the tiny Qwen2.5-VL of tests/fixtures/model/tiny on the records of tests/fixtures/train
(two-turn chains with a video; repeated to 8 conversations), batch 1, no accumulation, AdamW lr 1e-4,
linear schedule, clipping at 1.0, float32, CPU, BENCH_THREADS threads, no checkpoints. The Trainer is
fed exactly vs-sft's input: ids and labels built as tools/golden/sft_goldens.py builds them (assistant
tokens trained), pixel values from the transformers video processor. Each side runs in its own process;
steps/s covers the training loop (vs-sft: the per-step times of its metrics; Trainer: train_runtime),
peak RSS is the process's maximum resident set.

usage: sft.py WORK_DIR VS_SFT_BINARY        (sft.py --peer WORK_DIR runs the Trainer side)
"""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests/fixtures/model/tiny/model"
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
STEPS = int(os.environ.get("BENCH_STEPS", "40"))
COPIES = 4


def records():
    out = []
    for line in (ROOT / "tests/fixtures/train/records.jsonl").read_text().splitlines():
        r = json.loads(line)
        for m in r["messages"]:
            for it in m["content"] if isinstance(m["content"], list) else []:
                if it["type"] == "video":
                    it["frames"] = [str(ROOT / f) for f in it["frames"]]
        out.append(r)
    return [dict(r, id=f"{r['id']}-{k}") for k in range(COPIES) for r in out]


def peer(work):
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration, Trainer, TrainingArguments
    torch.set_num_threads(THREADS)
    spec = importlib.util.spec_from_file_location("sft_goldens", ROOT / "tools/golden/sft_goldens.py")
    g = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(g)
    import numpy as np
    import tokenizers
    from PIL import Image
    from transformers.models.qwen2_vl.video_processing_qwen2_vl import Qwen2VLVideoProcessor
    tok = tokenizers.Tokenizer.from_file(str(TINY / "tokenizer.json"))
    vproc = Qwen2VLVideoProcessor()

    class Data(torch.utils.data.Dataset):
        def __init__(self, recs):
            self.recs = recs

        def __len__(self):
            return len(self.recs)

        def __getitem__(self, i):  # processed on every access, as vs-sft reads frames per step
            rec = self.recs[i]
            pvs, grids, spgs, toks = [], [], [], []
            for m in rec["messages"]:
                for it in m["content"] if isinstance(m["content"], list) else []:
                    if it["type"] == "video":
                        frames = [np.array(Image.open(f).convert("RGB")) for f in it["frames"]]
                        o = vproc(videos=[torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)], return_tensors="pt",
                                  do_resize=False)
                        pvs.append(o["pixel_values_videos"])
                        grids.append(o["video_grid_thw"])
                        spgs.append(vproc.temporal_patch_size / it["sample_fps"])
                        toks.append(int(o["video_grid_thw"].prod()) // 4)
            text, spans = g.build_text(rec, toks)
            ids, offsets = g.encode(tok, text)
            labels = [t if any(b < e_ and e > s for s, e_ in spans) else -100 for t, (b, e) in zip(ids, offsets)]
            return {"input_ids": torch.tensor([ids]), "labels": torch.tensor([labels]),
                    "attention_mask": torch.ones(1, len(ids), dtype=torch.int64),
                    "pixel_values_videos": torch.cat(pvs), "video_grid_thw": torch.cat(grids),
                    "second_per_grid_ts": torch.tensor(spgs)}

    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(TINY, dtype=torch.float32, attn_implementation="eager")
    args = TrainingArguments(output_dir=str(work / "hf"), per_device_train_batch_size=1, max_steps=STEPS,
                             learning_rate=1e-4, lr_scheduler_type="linear", max_grad_norm=1.0, save_strategy="no",
                             logging_steps=1, report_to=[], use_cpu=True, dataloader_num_workers=0, seed=42,
                             remove_unused_columns=False, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=Data(records()), data_collator=lambda b: b[0])
    out = trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    print(json.dumps({"seconds": out.metrics["train_runtime"], "steps": STEPS, "first_loss": losses[0],
                      "last_loss": losses[-1]}))


def run(cmd, env, work):
    """Runs cmd; returns (stdout, peak RSS in KiB) of that process alone (wait4's rusage)."""
    with open(work / "out.txt", "w+") as out, open(work / "err.txt", "w+") as err:
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if p.returncode != 0:
            sys.exit(f"{cmd[0]} failed ({p.returncode}):\n{err.read()[-3000:]}")
        return out.read(), usage.ru_maxrss


def main():
    if sys.argv[1] == "--peer":
        return peer(Path(sys.argv[2]))
    work, vs_sft = Path(sys.argv[1]), sys.argv[2]
    work.mkdir(parents=True, exist_ok=True)
    data = work / "records.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in records()))
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS), MKL_NUM_THREADS=str(THREADS))
    metrics = work / "metrics.jsonl"
    metrics.unlink(missing_ok=True)
    _, vs_rss = run([vs_sft, "--model", str(TINY), "--output", str(work / "vs"), "-i", str(data), "--max-steps",
                     str(STEPS), "--lr", "1e-4", "--video-max-pixels", str(84 * 56), "--metrics", str(metrics),
                     "--log-level", "warn"], env, work)
    steps = [json.loads(l) for l in metrics.read_text().splitlines()]
    vs_seconds = sum(s["tokens"] / s["tokens_per_s"] for s in steps)
    out, hf_rss = run([sys.executable, __file__, "--peer", str(work)], env, work)
    hf = json.loads(out.strip().splitlines()[-1])
    vs_sps, hf_sps = STEPS / vs_seconds, STEPS / hf["seconds"]
    print(f"threads {THREADS}, {STEPS} steps of batch 1 on {len(records())} conversations (tiny model, fp32, CPU)")
    print(f"vs-sft     {vs_sps:8.2f} steps/s  peak RSS {vs_rss / 1024:7.1f} MiB  loss {steps[0]['loss']:.4f} -> "
          f"{steps[-1]['loss']:.4f}")
    print(f"Trainer    {hf_sps:8.2f} steps/s  peak RSS {hf_rss / 1024:7.1f} MiB  loss {hf['first_loss']:.4f} -> "
          f"{hf['last_loss']:.4f}")
    print(f"ratio      {vs_sps / hf_sps:8.2f}x steps/s (vs-sft / Trainer), RSS {vs_rss / hf_rss:.2f}x")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from rows import row

    import transformers

    trainer = f"transformers {transformers.__version__} Trainer"
    row("sft", f"SFT steps, batch 1, {THREADS} threads, tiny model", "steps/s", vs_sps, trainer, hf_sps, "higher")
    row("sft", "peak RSS", "MiB", vs_rss / 1024, trainer, hf_rss / 1024, "lower")


if __name__ == "__main__":
    main()
