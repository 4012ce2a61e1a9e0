#!/usr/bin/env python3
"""Loads a LoRA adapter written by vs-sft with the pinned peft (PeftModel.from_pretrained on the base
model, fp32, eager) and writes the logits of given token ids, so a test can compare them with vstar's
forward of the same adapter.
  ~/.local/share/vstar/venv/bin/python tools/golden/lora_check.py BASE ADAPTER OUT.safetensors ID,ID,... [ID,...]
Each id list is one sequence (all of the same length). Prints JSON on stdout: "adapted" (the modules
peft wrapped), "missing" (adapter tensors of the model the file did not set) and "unexpected" (file
tensors the model has no place for). Used by tests/train/test_lora.cpp.
"""
import json
import sys

import torch
from peft import PeftModel
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import Qwen2_5_VLForConditionalGeneration
from transformers.utils import logging

logging.set_verbosity_error()


def main():
    base_dir, adapter_dir, out = sys.argv[1:4]
    base = Qwen2_5_VLForConditionalGeneration.from_pretrained(base_dir, dtype=torch.float32, attn_implementation="eager")
    model = PeftModel.from_pretrained(base, adapter_dir)
    model.eval()
    params = {n.replace(".default", ""): p for n, p in model.named_parameters() if "lora_" in n}
    with safe_open(f"{adapter_dir}/adapter_model.safetensors", "pt") as f:
        keys = set(f.keys())
        missing = sorted(n for n, p in params.items() if n not in keys or not torch.equal(p, f.get_tensor(n)))
    unexpected = sorted(keys - set(params))
    adapted = sorted({n.rsplit(".lora_", 1)[0] for n in params})
    ids = torch.tensor([[int(t) for t in seq.split(",")] for seq in sys.argv[4:]], dtype=torch.int64)
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    save_file({"logits": logits.contiguous()}, out)
    print(json.dumps({"adapted": adapted, "missing": missing, "unexpected": unexpected}))


if __name__ == "__main__":
    main()
