#!/usr/bin/env python3
"""LoRA golden fixtures for lib/train/lora, from the pinned peft/transformers/torch (tools/requirements.txt).

On the tiny model of tools/golden/qwen_tiny.py (tests/fixtures/model/tiny/model), fp32, eager, CPU:
  * adapter_config.json, adapter_model.safetensors: a peft LoRA adapter (r 4, alpha 8, so scaling 2)
    of the text decoder's seven projections in both layers, saved by PeftModel.save_pretrained, with
    A and B drawn from a seeded normal (B non-zero, so the adapter changes the output);
  * golden.safetensors:
      ids             [2, 12] token ids;
      logits          the peft model's logits for ids (adapter active, eval mode);
      loss            transformers' causal-LM loss with labels = ids;
      grad.<peft key> gradients of that loss for every adapter tensor;
      merged_logits   the logits after merge_and_unload (W + scaling B A).
  * MANIFEST.json: versions and settings.

Usage: tools/golden/lora_goldens.py   (writes tests/fixtures/train/lora/)
"""
import json
import sys
from pathlib import Path

import peft
import safetensors
import torch
import transformers
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file
from transformers import Qwen2_5_VLForConditionalGeneration
from transformers.utils import logging

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests/fixtures/model/tiny/model"
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests/fixtures/train/lora"
PROJ = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj",
        "mlp.up_proj", "mlp.down_proj"]
R, ALPHA = 4, 8

logging.set_verbosity_error()


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    base = Qwen2_5_VLForConditionalGeneration.from_pretrained(TINY, dtype=torch.float32, attn_implementation="eager")
    layers = base.config.text_config.num_hidden_layers
    # Names relative to the text model, as vs-sft writes target_modules: peft matches them as dotted
    # suffixes, so the vision tower's mlp.*_proj layers are not adapted.
    targets = [f"layers.{i}.{p}" for i in range(layers) for p in PROJ]
    cfg = LoraConfig(r=R, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=targets, task_type="CAUSAL_LM")
    model = get_peft_model(base, cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn_like(p) * 0.2)
    model.eval()
    model.save_pretrained(OUT)
    (OUT / "README.md").unlink()  # peft's model card template
    # The absolute base path of this machine is no part of the fixture.
    conf = json.loads((OUT / "adapter_config.json").read_text())
    conf["base_model_name_or_path"] = "tests/fixtures/model/tiny/model"
    conf["target_modules"] = sorted(conf["target_modules"])  # peft writes a set: any order
    (OUT / "adapter_config.json").write_text(json.dumps(conf, indent=2, sort_keys=True) + "\n")

    ids = torch.randint(0, base.config.text_config.vocab_size - 24, (2, 12), dtype=torch.int64)
    out = model(input_ids=ids, labels=ids)
    out.loss.backward()
    g = {"ids": ids, "logits": out.logits.detach(), "loss": out.loss.detach().reshape(())}
    for name, p in model.named_parameters():
        if "lora_" in name:
            g["grad." + name.replace(".default", "")] = p.grad.detach().clone()
    merged = model.merge_and_unload()
    with torch.no_grad():
        g["merged_logits"] = merged(input_ids=ids).logits
    save_file({k: v.contiguous() for k, v in g.items()}, OUT / "golden.safetensors", metadata={"format": "pt"})

    manifest = {
        "generator": "tools/golden/lora_goldens.py",
        "versions": {"peft": peft.__version__, "transformers": transformers.__version__, "torch": torch.__version__,
                     "safetensors": safetensors.__version__},
        "settings": {"model": "tests/fixtures/model/tiny/model", "device": "cpu", "dtype": "float32",
                     "attn_implementation": "eager", "threads": 1, "r": R, "lora_alpha": ALPHA,
                     "init": "lora_A, lora_B ~ 0.2 * N(0, 1), torch.manual_seed(0)",
                     "loss": "model(input_ids=ids, labels=ids).loss"},
        "files": sorted(p.name for p in OUT.iterdir() if p.name != "MANIFEST.json"),
    }
    (OUT / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")


if __name__ == "__main__":
    main()
