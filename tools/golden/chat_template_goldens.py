#!/usr/bin/env python3
"""Golden renders for lib/model/chat_template: the REAL processor chat template
(../shared/assets/qwen2.5-vl/chat_template.json) rendered with Jinja2 the way transformers renders it
(transformers' own compiled template: sandboxed, trim_blocks, lstrip_blocks), for message lists written
here; plus the Qwen2.5-VL processor's pad expansion + tokenisation for synthetic 28-aligned images and
videos (input_ids and grids).

Writes tests/fixtures/model/chat_template/cases.json and manifest.json. Run with the project venv:
  ~/.local/share/vstar/venv/bin/python tools/golden/chat_template_goldens.py [--assets DIR]
"""
import argparse
import hashlib
import json
import pathlib
import platform
import sys

import jinja2
import numpy as np
import torch
import transformers
from transformers import AutoProcessor
from transformers.utils.chat_template_utils import _compile_jinja_template

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "model" / "chat_template"

IMG = {"type": "image", "image": "frame.png"}
VID = {"type": "video", "video": ["f0.png", "f1.png"]}


def text(t):
    return {"type": "text", "text": t}


CASES = [
    ("image_then_text", [{"role": "user", "content": [IMG, text("Describe this image.")]}]),
    ("string_content", [{"role": "user", "content": "Hi there"}]),
    ("with_system", [{"role": "system", "content": "You classify actions."},
                     {"role": "user", "content": [VID, text("What is the person doing?")]}]),
    ("system_list", [{"role": "system", "content": [text("List system.")]},
                     {"role": "user", "content": "q"}]),
    ("multi_turn", [{"role": "user", "content": [IMG, IMG, text("Compare.")]},
                    {"role": "assistant", "content": "The first is brighter."},
                    {"role": "user", "content": [VID, text("And this video?"), IMG]}]),
    ("image_url_key", [{"role": "user", "content": [{"image_url": "http://x/y.png"}, {"image": "a.png"},
                                                    {"video": "v.mp4"}, text("t")]}]),
    ("other_items", [{"role": "user", "content": [{"type": "audio", "audio": "a.wav"}, text("after")]}]),
    ("empty_list", [{"role": "user", "content": []}]),
    ("newlines_specials", [{"role": "user", "content": [text("line1\nline2 <tool_call>{}</tool_call> 😀")]}]),
    ("assistant_first", [{"role": "assistant", "content": "I start."}]),
    ("tool_role", [{"role": "user", "content": [VID, text("Q")]},
                   {"role": "assistant", "content": "<tool_call>\n{\"name\": \"pose\"}\n</tool_call>"},
                   {"role": "tool", "content": [text("pose: ok"), IMG]}]),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--assets", default=str(ROOT.parent / "shared" / "assets" / "qwen2.5-vl"))
    args = ap.parse_args()
    assets = pathlib.Path(args.assets)
    template = json.loads((assets / "chat_template.json").read_text())["chat_template"]
    compiled = _compile_jinja_template(template)

    renders = []
    for name, messages in CASES:
        for gen in (False, True):
            for vid in (False, True):
                s = compiled.render(messages=messages, add_generation_prompt=gen, add_vision_id=vid)
                renders.append({"name": name, "messages": messages, "add_generation_prompt": gen,
                                "add_vision_id": vid, "text": s})

    # The processor: pad expansion by grid, then tokenisation. 28-aligned images skip the resize.
    proc = AutoProcessor.from_pretrained(str(assets))
    rng = np.random.default_rng(0)
    def image(h, w):
        return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    def video(n, h, w):
        return rng.integers(0, 256, size=(n, h, w, 3), dtype=np.uint8)
    processed = []
    setups = [
        ("one_image", [IMG, text("Describe this image.")], [image(56, 84)], None),
        ("two_images", [IMG, text("and"), IMG], [image(224, 224), image(140, 196)], None),
        ("video_image", [VID, text("then"), IMG], [image(56, 56)], [video(4, 112, 168)]),
        ("two_videos", [VID, VID, text("x")], None, [video(2, 56, 56), video(6, 84, 112)]),
    ]
    for name, content, imgs, vids in setups:
        messages = [{"role": "user", "content": content}]
        prompt = compiled.render(messages=messages, add_generation_prompt=True, add_vision_id=False)
        kw = {}
        if imgs:
            kw["images"] = imgs
        if vids:
            kw["videos"] = vids
        out = proc(text=[prompt], return_tensors="pt", **kw)
        processed.append({
            "name": name, "prompt": prompt,
            "image_grid_thw": out["image_grid_thw"].tolist() if "image_grid_thw" in out else [],
            "video_grid_thw": out["video_grid_thw"].tolist() if "video_grid_thw" in out else [],
            "input_ids": out["input_ids"][0].tolist(),
        })

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "cases.json").write_text(json.dumps({"render": renders, "processor": processed},
                                               ensure_ascii=True) + "\n")
    manifest = {
        "script": "tools/golden/chat_template_goldens.py",
        "python": platform.python_version(),
        "transformers": transformers.__version__,
        "jinja2": jinja2.__version__,
        "torch": torch.__version__,
        "processor": type(proc).__name__,
        "image_processor": type(proc.image_processor).__name__,
        "renderer": "transformers.utils.chat_template_utils._compile_jinja_template",
        "chat_template_json_sha256": hashlib.sha256((assets / "chat_template.json").read_bytes()).hexdigest(),
        "render_cases": len(renders),
        "processor_cases": len(processed),
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(renders)} renders and {len(processed)} processor cases to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
