#!/usr/bin/env python3
"""llama.cpp decode on the text stack of bench/policy.py's random Qwen2.5-VL (the peer row of issue 11).

The decoder of Qwen2.5-VL on text alone is Qwen2 (M-RoPE with equal position components is RoPE), so
the text weights are written as a Qwen2ForCausalLM checkpoint, converted to GGUF by llama.cpp's own
convert_hf_to_gguf.py at each --outtype, and decoded with llama-cpp-python on the same thread count:
the ~200-token text prompt of the bench evaluated once, then NEW_TOKENS single-token steps (decode
tok/s = steps / their time, best of 3 runs).

usage: policy_llama.py MODEL_DIR WORK_DIR CONVERT_SCRIPT LLAMA_PYTHON THREADS NEW_TOKENS PROMPT_FILE OUTTYPE...
         (with the venv's Python; prints {"version": ..., OUTTYPE: {"decode_tok_s": ..., "prompt_tokens": ...}})
       policy_llama.py time GGUF THREADS NEW_TOKENS PROMPT_FILE
         (LLAMA_PYTHON: a Python with llama_cpp and what convert_hf_to_gguf.py imports; it runs both)
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

if sys.argv[1] == "time":
    import llama_cpp
    from llama_cpp import Llama

    gguf, threads, new_tokens, prompt_file = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    llm = Llama(model_path=gguf, n_threads=threads, n_threads_batch=threads, n_ctx=1024, verbose=False)
    ids = llm.tokenize(Path(prompt_file).read_text().encode())
    best = 0.0
    for _ in range(3):
        llm.reset()
        llm.eval(ids)
        t = time.perf_counter()
        for _ in range(new_tokens):
            llm.eval([ids[-1]])
        best = max(best, new_tokens / (time.perf_counter() - t))
    print(json.dumps({"version": llama_cpp.__version__, "decode_tok_s": best, "prompt_tokens": len(ids)}))
    sys.exit(0)

from safetensors.torch import load_file, save_file  # noqa: E402

model_dir, work, convert, llama_py = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
threads, new_tokens, prompt_file, outtypes = sys.argv[5], sys.argv[6], sys.argv[7], sys.argv[8:]
text_dir = work / (model_dir.name + "-qwen2-text")
if not (text_dir / "config.json").exists():
    text_dir.mkdir(parents=True, exist_ok=True)
    cfg = json.loads((model_dir / "config.json").read_text())
    tc = cfg.get("text_config", cfg)
    qwen2 = {k: tc[k] for k in ["vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                                "num_attention_heads", "num_key_value_heads", "rope_theta", "rms_norm_eps",
                                "max_position_embeddings"]}
    qwen2.update(architectures=["Qwen2ForCausalLM"], model_type="qwen2", hidden_act="silu",
                 tie_word_embeddings=cfg.get("tie_word_embeddings", True), torch_dtype="float32")
    weights = {}
    for f in sorted(model_dir.glob("*.safetensors")):
        for k, v in load_file(f).items():
            if "visual" in k:
                continue
            for prefix in ("model.language_model.", "language_model.model.", "model."):
                if k.startswith(prefix):
                    weights["model." + k[len(prefix):]] = v.contiguous()
                    break
            if k == "lm_head.weight" and not qwen2["tie_word_embeddings"]:
                weights[k] = v
    save_file(weights, text_dir / "model.safetensors")
    (text_dir / "config.json").write_text(json.dumps(qwen2, indent=1))
    for f in ["vocab.json", "merges.txt", "tokenizer_config.json"]:
        if (model_dir / f).exists():
            (text_dir / f).write_bytes((model_dir / f).read_bytes())

res = {}
for ot in outtypes:
    gguf = work / f"{text_dir.name}-{ot}.gguf"
    if not gguf.exists():
        subprocess.run([llama_py, convert, str(text_dir), "--outtype", ot, "--outfile", str(gguf)], check=True,
                       stdout=subprocess.DEVNULL)
    out = subprocess.run([llama_py, __file__, "time", str(gguf), threads, new_tokens, prompt_file], check=True,
                         capture_output=True, text=True)
    r = json.loads(out.stdout.splitlines()[-1])
    res["version"] = r.pop("version")
    res[ot] = r
print(json.dumps(res))
