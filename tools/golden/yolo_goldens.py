#!/usr/bin/env python3
"""Golden fixtures for the `yolo` plugin (issue 4).

Builds YOLO11 detect and pose models from the ultralytics model YAMLs with random weights (fixed seed,
width 1/16, 8 classes, 4 DFL bins, so each TorchScript file stays small), exports them with ultralytics' own
TorchScript exporter, runs ultralytics `predict` on the real images in ../shared/assets/images, and
stores the models plus the expected boxes/keypoints in tests/fixtures/tools/. The C++ plugin must
reproduce these detections (same count and order, boxes within 0.5 px).

Random weights give scores that barely differ between anchors, which makes NMS order fragile; the
weights are therefore drawn with a larger spread (He-normal convolutions, perturbed batch-norm
statistics) so scores depend on the image content.

Usage: ~/.local/share/vstar/venv/bin/python tools/golden/yolo_goldens.py [--shared ../shared]
Pinned: see tools/requirements.txt (ultralytics, torch, opencv-python comes with ultralytics).
"""
import argparse
import hashlib
import json
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
import yaml

import ultralytics
from ultralytics import YOLO
from ultralytics.nn.modules.block import DFL

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "tools"
IMAGES = ["images/bus.jpg", "images/zidane.jpg", "images/coco_val2017/000000000785.jpg",
          "images/coco_val2017/000000040083.jpg", "images/coco_val2017/000000196141.jpg",
          "images/coco_val2017/000000197388.jpg"]
SEED = 20260422
WIDTH = 0.0625  # yolo11n uses 0.25
WSTD = 2.0
MAX_PER_IMAGE = 40
REG_MAX = 4  # DFL bins (yolo11 uses 16); the box branch width follows it
NC_DETECT = 8  # the first 8 COCO classes (person .. truck) keep the head small


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def randomize(model: torch.nn.Module, cls_bias: float) -> None:
    g = torch.Generator().manual_seed(SEED)
    for m in model.modules():
        if isinstance(m, DFL):
            continue
        if isinstance(m, torch.nn.Conv2d) and m.weight.requires_grad:
            fan_in = m.weight[0].numel()
            m.weight.data = torch.randn(m.weight.shape, generator=g) * math.sqrt(WSTD / fan_in)
            if m.bias is not None:
                m.bias.data = torch.randn(m.bias.shape, generator=g) * 0.5
        elif isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data = 1 + 0.2 * torch.randn(m.weight.shape, generator=g)
            m.bias.data = 0.2 * torch.randn(m.bias.shape, generator=g)
            m.running_mean = 0.1 * torch.randn(m.running_mean.shape, generator=g)
            m.running_var = 0.5 + torch.rand(m.running_var.shape, generator=g)
    head = model.model[-1]
    for seq in head.cv3:  # class branch: shift logits so only a few anchors pass conf
        seq[-1].bias.data += cls_bias


def build(task: str, tmp: Path, shared: Path):
    src = Path(ultralytics.__file__).parent / "cfg" / "models" / "11" / ("yolo11.yaml" if task == "detect" else "yolo11-pose.yaml")
    cfg = yaml.safe_load(src.read_text())
    cfg["scales"] = {"t": [0.50, WIDTH, 1024]}
    cfg["nc"] = NC_DETECT if task == "detect" else 1
    cfg["reg_max"] = REG_MAX
    name = "vstar-tiny-yolo11" + ("" if task == "detect" else "-pose")
    yaml_path = tmp / f"{name}.yaml"
    yaml_path.write_text(yaml.safe_dump(cfg))
    torch.manual_seed(SEED)
    model = YOLO(str(yaml_path), task=task)
    randomize(model.model, cls_bias=-3.0 if task == "detect" else -1.0)
    if task == "detect":
        coco = yaml.safe_load((Path(ultralytics.__file__).parent / "cfg" / "datasets" / "coco.yaml").read_text())
        model.model.names = {i: coco["names"][i] for i in range(NC_DETECT)}
    else:
        model.model.names = {0: "person"}
    exported = Path(model.export(format="torchscript", imgsz=640, device="cpu", verbose=False))
    dst = OUT / f"{name}.torchscript"
    shutil.copyfile(exported, dst)
    exported.unlink()  # the exporter writes into the working directory
    pred_model = YOLO(str(dst), task=task)
    # Greedy NMS never lets a lower score suppress a higher one, so a low-confidence run tells which
    # threshold (per image) leaves at most MAX_PER_IMAGE detections.
    probe = [pred_model.predict(source=str(shared / "assets" / rel), conf=0.01, imgsz=640, device="cpu",
                                verbose=False)[0].boxes.conf.tolist() for rel in IMAGES]
    frames = []
    for rel, scores in zip(IMAGES, probe):
        conf = sorted(scores, reverse=True)[MAX_PER_IMAGE] if len(scores) > MAX_PER_IMAGE else 0.01
        conf = math.ceil(conf * 1000) / 1000
        r = pred_model.predict(source=str(shared / "assets" / rel), conf=conf, imgsz=640, device="cpu",
                               verbose=False)[0]
        entry = {"image": rel, "conf": conf, "boxes": []}
        for i in range(len(r.boxes)):
            b = {"xyxy": [round(float(v), 4) for v in r.boxes.xyxy[i].tolist()], "score": round(float(r.boxes.conf[i]), 6),
                 "class": int(r.boxes.cls[i])}
            if task == "pose":
                b["keypoints"] = [[round(float(v), 4) for v in kp] for kp in r.keypoints.data[i].tolist()]
            entry["boxes"].append(b)
        frames.append(entry)
    return dst, frames


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    args = ap.parse_args()
    shared = Path(args.shared)
    OUT.mkdir(parents=True, exist_ok=True)
    manifest = {"generator": "tools/golden/yolo_goldens.py", "seed": SEED, "width_multiple": WIDTH,
                "versions": {"ultralytics": ultralytics.__version__, "torch": torch.__version__,
                             "numpy": np.__version__}, "files": {}, "inputs": {}}
    import cv2
    manifest["versions"]["opencv-python"] = cv2.__version__
    with tempfile.TemporaryDirectory() as t:
        for task in ("detect", "pose"):
            model_path, frames = build(task, Path(t), shared)
            golden = {"task": task, "model": model_path.name, "iou": 0.7, "imgsz": 640,
                      "frames": frames}
            gpath = OUT / f"yolo_{task}_golden.json"
            gpath.write_text(json.dumps(golden, separators=(",", ":")).replace('{"xyxy"', '\n{"xyxy"') + "\n")
            manifest["files"][model_path.name] = sha256(model_path)
            manifest["files"][gpath.name] = sha256(gpath)
            counts = [len(f["boxes"]) for f in frames]
            print(f"{task}: {model_path.name} {model_path.stat().st_size} bytes, detections per image {counts}")
    for rel in IMAGES:
        manifest["inputs"][rel] = sha256(shared / "assets" / rel)
    (OUT / "yolo_MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
