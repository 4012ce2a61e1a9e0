#!/usr/bin/env python3
"""Golden safetensors files for lib/model/safetensors, written by the python `safetensors` package:
  tests/fixtures/model/safetensors/dtypes.safetensors   one tensor per dtype (BF16 F16 F32 F64 I64 I32 I16 I8 U8 BOOL),
                                                        plus an empty and a 0-d tensor, with __metadata__
  tests/fixtures/model/safetensors/sharded/              two shards + model.safetensors.index.json in the
                                                        transformers 4.52+ key layout (model.language_model.*, model.visual.*)
  tests/fixtures/model/safetensors/expected.json         every tensor's dtype, shape and values (as float64/int lists)
Values are deterministic (no RNG). Run with the project venv:
  ~/.local/share/vstar/venv/bin/python tools/golden/safetensors_goldens.py
"""
import json
import pathlib
import platform

import safetensors
import torch
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "model" / "safetensors"


def ramp(n, scale=1.0):
    return (torch.arange(n, dtype=torch.float64) - n / 2) * scale


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    t = {
        "bf16": ramp(6, 0.375).reshape(2, 3).to(torch.bfloat16),
        "f16": ramp(8, 0.125).reshape(2, 2, 2).to(torch.float16),
        "f32": (ramp(5, 0.1) ** 3).to(torch.float32),
        "f64": ramp(3, 1e-3).to(torch.float64),
        "i64": torch.tensor([-(2**40), -1, 0, 7, 2**50], dtype=torch.int64),
        "i32": torch.tensor([[-5, 6], [2**30, -(2**31)]], dtype=torch.int32),
        "i16": torch.tensor([-32768, 32767, 3], dtype=torch.int16),
        "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
        "u8": torch.arange(0, 250, 50, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True, True]),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
        "scalar": torch.tensor(2.5, dtype=torch.float32),
    }
    save_file(t, str(OUT / "dtypes.safetensors"), metadata={"format": "pt", "note": "vstar golden"})

    # A sharded checkpoint in the 4.52+ layout, as save_pretrained writes it.
    shard_dir = OUT / "sharded"
    shard_dir.mkdir(exist_ok=True)
    shards = {
        "model-00001-of-00002.safetensors": {
            "model.language_model.embed_tokens.weight": ramp(12, 0.5).reshape(4, 3).to(torch.float32),
            "model.language_model.layers.0.self_attn.q_proj.bias": ramp(3, 0.25).to(torch.bfloat16),
        },
        "model-00002-of-00002.safetensors": {
            "model.visual.merger.ln_q.weight": ramp(2, 2.0).to(torch.float16),
            "lm_head.weight": ramp(12, -0.5).reshape(4, 3).to(torch.float32),
        },
    }
    weight_map = {}
    total = 0
    for fname, tensors in shards.items():
        save_file(tensors, str(shard_dir / fname), metadata={"format": "pt"})
        for k, v in tensors.items():
            weight_map[k] = fname
            total += v.numel() * v.element_size()
    (shard_dir / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, indent=2) + "\n")

    def describe(v):
        return {"dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape),
                "values": v.to(torch.float64).flatten().tolist() if v.is_floating_point()
                else v.to(torch.int64).flatten().tolist()}

    expected = {"dtypes": {k: describe(v) for k, v in t.items()},
                "sharded": {k: describe(v) for s in shards.values() for k, v in s.items()}}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    (OUT / "manifest.json").write_text(json.dumps({
        "script": "tools/golden/safetensors_goldens.py", "python": platform.python_version(),
        "safetensors": safetensors.__version__, "torch": torch.__version__}, indent=2) + "\n")


if __name__ == "__main__":
    main()
