#!/usr/bin/env python3
"""Loads a checkpoint directory written by vstar (config.json + safetensors, possibly sharded) with the
pinned transformers and prints a JSON report on stdout: missing/unexpected/mismatched keys and, per
parameter (canonical Hub name), its shape and float64 sum/abs-sum. Used by tests/model/test_safetensors.cpp.
  ~/.local/share/vstar/venv/bin/python tools/golden/safetensors_check.py DIR [--logits-vs REF_DIR]
With --logits-vs, both checkpoints run the same forward (fixed random text ids, fp32, eager) and the
report adds the largest absolute logit difference between them and whether the argmaxes agree.
"""
import json
import pathlib
import re
import sys

import torch
from transformers import Qwen2_5_VLForConditionalGeneration
from transformers.utils import logging

logging.set_verbosity_error()


def canonical(name):
    name = re.sub(r"^model\.language_model\.", "model.", name)
    return re.sub(r"^model\.visual\.", "visual.", name)


def main():
    d = pathlib.Path(sys.argv[1])
    model, info = Qwen2_5_VLForConditionalGeneration.from_pretrained(
        str(d), torch_dtype=torch.float32, output_loading_info=True)
    params = {}
    for n, p in model.state_dict().items():
        t = p.detach().to(torch.float64)
        params[canonical(n)] = {"shape": list(p.shape), "sum": t.sum().item(), "abs_sum": t.abs().sum().item()}
    shards = list(d.glob("model-*-of-*.safetensors"))
    logits = {}
    if len(sys.argv) > 3 and sys.argv[2] == "--logits-vs":
        ref = Qwen2_5_VLForConditionalGeneration.from_pretrained(
            sys.argv[3], torch_dtype=torch.float32, attn_implementation="eager").eval()
        mine = Qwen2_5_VLForConditionalGeneration.from_pretrained(
            str(d), torch_dtype=torch.float32, attn_implementation="eager").eval()
        gen = torch.Generator().manual_seed(0)
        ids = torch.randint(0, 1000, (2, 24), generator=gen)  # below the remapped special ids
        with torch.no_grad():
            a = mine(input_ids=ids).logits
            b = ref(input_ids=ids).logits
        logits = {"max_abs_diff": (a - b).abs().max().item(),
                  "argmax_equal": bool(torch.equal(a.argmax(-1), b.argmax(-1))),
                  "positions": a.shape[0] * a.shape[1]}
    print(json.dumps({
        "missing_keys": sorted(info["missing_keys"]),
        "unexpected_keys": sorted(info["unexpected_keys"]),
        "mismatched_keys": [list(map(str, m)) for m in info["mismatched_keys"]],
        "tie_word_embeddings": bool(model.config.get_text_config().tie_word_embeddings),
        "lm_head_is_embed": model.lm_head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr(),
        "num_shards": len(shards),
        "params": params,
        "logits": logits,
    }))


if __name__ == "__main__":
    main()
