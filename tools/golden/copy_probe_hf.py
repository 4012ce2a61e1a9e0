#!/usr/bin/env python3
"""The copy probe (share/vstar/experiments/mini/copy_probe.py) trained by transformers instead of
vs-sft: the same initial checkpoint (vs-init output), the same records, AdamW, warmup then cosine,
gradient clipping at 1, the loss on the assistant content and its <|im_end|>. It tells whether a
student that does not learn to copy is vstar's trainer or the student itself.
  ~/.local/share/vstar/venv/bin/python tools/golden/copy_probe_hf.py INIT_DIR CORPUS.jsonl STEPS [BATCH] [LR]
Prints the mean loss per 25 steps. One thread (OMP_NUM_THREADS), seed 0.
"""
import json
import random
import sys

import torch
from transformers import AutoTokenizer, Qwen2_5_VLForConditionalGeneration, get_cosine_schedule_with_warmup
from transformers.utils import logging

logging.set_verbosity_error()


def main():
    init, corpus, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    lr = float(sys.argv[5]) if len(sys.argv) > 5 else 2e-3
    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(init)
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(init, dtype=torch.float32, attn_implementation="eager")
    records = [json.loads(line) for line in open(corpus)]

    def encode(rec):
        system, user, assistant = (m["content"] for m in rec["messages"])
        prompt = (f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
                  "<|im_start|>assistant\n")
        a, b = tok(prompt)["input_ids"], tok(assistant + "<|im_end|>")["input_ids"]
        return a + b, [-100] * len(a) + b

    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    schedule = get_cosine_schedule_with_warmup(opt, int(0.05 * steps), steps)
    order = list(range(len(records)))
    random.Random(0).shuffle(order)
    pad = tok.pad_token_id or 0
    losses = []
    for step in range(steps):
        rows = [encode(records[order[(step * batch + i) % len(records)]]) for i in range(batch)]
        width = max(len(ids) for ids, _ in rows)
        ids = torch.tensor([x + [pad] * (width - len(x)) for x, _ in rows])
        labels = torch.tensor([y + [-100] * (width - len(y)) for _, y in rows])
        mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x, _ in rows])
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        schedule.step()
        opt.zero_grad()
        losses.append(loss.item())
        if (step + 1) % 25 == 0:
            print(f"steps {step - 23}-{step + 1}: mean loss {sum(losses[-25:]) / 25:.2f}", flush=True)


if __name__ == "__main__":
    main()
