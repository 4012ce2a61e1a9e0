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
pipeline=("$bin/vs-decode" -i "$work/manifest.jsonl")
echo "demo: ${pipeline[*]}" >&2
"${pipeline[@]}" | tee "$work/out.jsonl"
command -v jq >/dev/null && jq -c '{id, frames: (.frames | {n: (.paths | length), indices, sample_fps, width, height})}' "$work/out.jsonl" >&2
