#!/usr/bin/env python3
"""Loads a model directory written by vs-sft with the pinned transformers (fp32, eager) and writes the
logits of given token ids, so a test can compare them with vstar's forward of the same weights.
  ~/.local/share/vstar/venv/bin/python tools/golden/sft_check.py DIR OUT.safetensors ID,ID,... [ID,ID,...]
Each id list is one sequence (all of the same length). Prints {"missing_keys", "unexpected_keys",
"mismatched_keys"} as JSON on stdout. Used by tests/train/test_vs_sft.cpp.
"""
import json
import sys

import torch
from safetensors.torch import save_file
from transformers import Qwen2_5_VLForConditionalGeneration
from transformers.utils import logging

logging.set_verbosity_error()


def main():
    model, info = Qwen2_5_VLForConditionalGeneration.from_pretrained(
        sys.argv[1], dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    model.eval()
    ids = torch.tensor([[int(t) for t in seq.split(",")] for seq in sys.argv[3:]], dtype=torch.int64)
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    save_file({"logits": logits.contiguous()}, sys.argv[2])
    print(json.dumps({"missing_keys": sorted(info["missing_keys"]), "unexpected_keys": sorted(info["unexpected_keys"]),
                      "mismatched_keys": [list(map(str, m)) for m in info["mismatched_keys"]]}))


if __name__ == "__main__":
    main()
