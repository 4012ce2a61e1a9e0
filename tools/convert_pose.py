#!/usr/bin/env python3
"""Converts the Ultralight-Nano-SimplePose ONNX model to TorchScript for the `topdown` plugin.

OpenCV DNN 4.6 computes this graph wrongly (grouped ConvTranspose, see ../shared/assets/README.md), so
the plugin runs it with LibTorch instead: onnx2torch turns the graph into a torch.nn.Module, which is
traced to TorchScript with the fixed input 1x3x256x192 (the batch dimension stays dynamic). The output
is written into the build tree, never committed.

The ONNX file is opset 8 (Clip with min/max attributes); onnx's version converter lifts it to opset 11
first, which onnx2torch supports. Unless --no-check, the result is compared with onnxruntime on a random
input (max |diff| must stay under 1e-4).

Usage: python tools/convert_pose.py SRC.onnx DST.pt      (pinned: onnx, onnx2torch, onnxruntime, torch)
"""
import argparse
import sys

import numpy as np
import onnx
import torch
from onnx import version_converter
from onnx2torch import convert


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--no-check", action="store_true")
    args = ap.parse_args()

    model = onnx.load(args.src)
    # Opset 8 BatchNormalization carries `spatial` (removed in opset 9). MXNet writes spatial=0 with
    # per-channel [C] parameters, which computes the same as the spatial mode; drop it so the converter
    # accepts the node.
    for node in model.graph.node:
        if node.op_type == "BatchNormalization":
            for a in list(node.attribute):
                if a.name == "spatial":
                    node.attribute.remove(a)
    if model.opset_import[0].version < 11:
        model = version_converter.convert_version(model, 11)
    onnx.checker.check_model(model)
    net = convert(model).eval()
    example = torch.rand(2, 3, 256, 192, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        traced = torch.jit.trace(net, example, check_trace=False)
    traced = torch.jit.freeze(traced.eval())
    if not args.no_check:
        import onnxruntime as ort

        sess = ort.InferenceSession(args.src, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        ref = np.concatenate([sess.run(None, {name: example[i : i + 1].numpy()})[0] for i in range(2)])
        with torch.no_grad():
            got = traced(example).numpy()
        diff = float(np.abs(ref - got).max())
        print(f"convert_pose: max |torchscript - onnxruntime| = {diff:.2e} on {tuple(got.shape)}", file=sys.stderr)
        if diff > 1e-4:
            print("convert_pose: conversion does not match onnxruntime", file=sys.stderr)
            return 1
    traced.save(args.dst)
    print(f"convert_pose: wrote {args.dst}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
