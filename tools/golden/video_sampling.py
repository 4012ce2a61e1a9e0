#!/usr/bin/env python3
"""Golden tables for lib/video/sampling: qwen-vl-utils smart_nframes, linspace().round() frame
indices, smart_resize and fetch_video's frame size, for the upstream constants and the Video-STAR
copy's constants (the authors' vision_process.py: FPS_MAX_FRAMES 16, VIDEO_MIN = VIDEO_MAX = 128*28*28).

Writes tests/fixtures/video/sampling.json (+ sampling.manifest.json). Run with the project venv:
  ~/.local/share/vstar/venv/bin/python tools/golden/video_sampling.py
"""
import json
import math
import pathlib
import platform
import sys

import torch
import qwen_vl_utils
from qwen_vl_utils import vision_process as vp

vp.logger.setLevel("ERROR")  # smart_nframes warns for every short clip

OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "video"

FACTOR = 28
SETS = {
    # name: (FPS_MAX_FRAMES, VIDEO_MIN_TOKEN_NUM, VIDEO_MAX_TOKEN_NUM)
    "upstream": (768, 128, 768),
    "videostar": (16, 128, 128),
}


def with_constants(name, fn):
    """Runs fn with the module constants of one set patched in, restoring them afterwards."""
    max_frames, min_tok, max_tok = SETS[name]
    saved = (vp.FPS_MAX_FRAMES, vp.VIDEO_MIN_TOKEN_NUM, vp.VIDEO_MAX_TOKEN_NUM)
    vp.FPS_MAX_FRAMES, vp.VIDEO_MIN_TOKEN_NUM, vp.VIDEO_MAX_TOKEN_NUM = max_frames, min_tok, max_tok
    try:
        return fn()
    finally:
        vp.FPS_MAX_FRAMES, vp.VIDEO_MIN_TOKEN_NUM, vp.VIDEO_MAX_TOKEN_NUM = saved


def video_size(name, h, w, n):
    """fetch_video's min/max pixel computation and smart_resize call (vision_process.py:449-470)."""
    def run():
        min_pixels = vp.VIDEO_MIN_TOKEN_NUM * FACTOR * FACTOR
        total_pixels = vp.MODEL_SEQ_LEN * FACTOR * FACTOR * 0.9
        max_pixels = max(min(vp.VIDEO_MAX_TOKEN_NUM * FACTOR * FACTOR, total_pixels / n * vp.FRAME_FACTOR),
                         int(min_pixels * 1.05))
        return vp.smart_resize(h, w, factor=FACTOR, min_pixels=min_pixels, max_pixels=max_pixels), max_pixels
    return with_constants(name, run)


def main():
    totals = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 59, 60, 61, 72, 73, 74, 83, 90,
              99, 150, 164, 240, 241, 299, 300, 301, 959, 1000, 1537, 5000, 100000]
    fpss = [1.0, 6.0, 12.5, 15.0, 20.09, 23.976023976023978, 25.0, 29.97002997002997, 30.0, 50.0, 59.94, 60.0, 120.0]
    nframes = []
    for name in SETS:
        for total in totals:
            for fps in fpss:
                try:
                    n = with_constants(name, lambda: vp.smart_nframes({}, total_frames=total, video_fps=fps))
                except (ValueError, ZeroDivisionError):
                    n = None
                nframes.append({"set": name, "total": total, "fps": fps, "n": n})

    linspace = []
    pairs = set()
    for row in nframes:
        if row["n"]:
            pairs.add((row["total"], row["n"]))
    for total in [2, 3, 5, 7, 9, 10, 11, 13, 17, 21, 33, 45, 72, 73, 101, 151, 241, 299, 1001]:
        for n in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 32, 64, 100, 768]:
            if n <= total:
                pairs.add((total, n))
    for total, n in sorted(pairs):
        idx = torch.linspace(0, total - 1, n).round().long().tolist()
        linspace.append({"total": total, "n": n, "indices": idx})

    resize = []
    image_min, image_max = 4 * FACTOR * FACTOR, 16384 * FACTOR * FACTOR
    # qwen-vl-utils smart_resize examples with the preprocessor_config limits (h, w).
    for h, w in [(480, 640), (1080, 1920), (70, 70), (42, 98), (4000, 3000), (224, 224), (14, 14), (1, 150),
                 (10, 1000), (28, 5600), (100, 20001)]:
        try:
            hh, ww = vp.smart_resize(h, w, factor=FACTOR, min_pixels=image_min, max_pixels=image_max)
            resize.append({"h": h, "w": w, "min": image_min, "max": image_max, "out": [hh, ww]})
        except ValueError:
            resize.append({"h": h, "w": w, "min": image_min, "max": image_max, "out": None})

    video = []
    # the authors' frame sizes (W x H) plus the shared clips' sizes.
    sizes = [(240, 320), (256, 340), (256, 456), (240, 427), (360, 640), (720, 1280), (1080, 1920),
             (568, 320), (320, 568), (240, 352), (480, 640), (256, 256), (100, 100), (27, 3000), (2000, 20)]
    for name in SETS:
        for h, w in sizes:
            for n in [2, 4, 6, 16, 64, 766, 768]:
                try:
                    (hh, ww), max_pixels = video_size(name, h, w, n)
                    video.append({"set": name, "h": h, "w": w, "n": n, "max_pixels": max_pixels, "out": [hh, ww]})
                except ValueError:
                    video.append({"set": name, "h": h, "w": w, "n": n, "out": None})

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sampling.json").write_text(json.dumps(
        {"nframes": nframes, "linspace": linspace, "smart_resize": resize, "video_size": video}, indent=None) + "\n")
    manifest = {
        "script": "tools/golden/video_sampling.py",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "qwen_vl_utils": getattr(qwen_vl_utils, "__version__", "0.0.14 (from tools/requirements.txt)"),
        "constant_sets": {k: {"FPS_MAX_FRAMES": v[0], "VIDEO_MIN_TOKEN_NUM": v[1], "VIDEO_MAX_TOKEN_NUM": v[2]}
                          for k, v in SETS.items()},
        "notes": "nframes=null means smart_nframes raised; linspace is torch.linspace(0,total-1,n).round() "
                 "(float32, CPU); video_size follows fetch_video's max_pixels formula.",
        "counts": {"nframes": len(nframes), "linspace": len(linspace), "smart_resize": len(resize),
                   "video_size": len(video)},
    }
    (OUT / "sampling.manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest["counts"]))


if __name__ == "__main__":
    sys.exit(main())
