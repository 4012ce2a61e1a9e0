#!/usr/bin/env bash
# The main job on embedded defaults: a clip generated here (no downloads) goes through the pipeline
# stages that need no model weights. Prints the records to stdout.
set -euo pipefail
build=${1:-build}
bin="$build/bin"
work=$(mktemp -d "${TMPDIR:-/tmp}/vstar-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
# 6 s test pattern with a moving box, 25 fps: enough for the Qwen/Video-STAR sampler (12 frames).
ffmpeg -v error -f lavfi -i "testsrc2=size=320x240:rate=25:duration=6" -c:v mpeg4 -q:v 3 "$work/demo.avi"
printf '{"id":"demo","video":"%s"}\n' "$work/demo.avi" > "$work/manifest.jsonl"
# Stages that need no downloaded weights: decode, then person detection with OpenCV's HOG detector
# (the embedded default) drawing box overlays into the cache.
echo "demo: vs-decode -i manifest.jsonl | vs-detect --overlay bound" >&2
"$bin/vs-decode" -i "$work/manifest.jsonl" | "$bin/vs-detect" --overlay bound | tee "$work/out.jsonl"
command -v jq >/dev/null && jq -c '{id, frames: (.frames | {n: (.paths | length), indices, sample_fps, width, height}), detect: (.detect | {plugin, boxes: ([.frames[]? | length] | add)})}' "$work/out.jsonl" >&2
