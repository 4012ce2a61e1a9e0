#!/usr/bin/env bash
# The main job on embedded defaults: a clip generated here (no downloads) goes through the pipeline
# stages that need no model weights. Prints the records to stdout and a summary to stderr.
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
# A summary with true counts: boxes per frame are the lengths of each frame's "boxes" list.
if command -v jq >/dev/null; then
  jq -r '"demo: \(.frames.paths | length) frames sampled of \(.frames.total) (indices \(.frames.indices | map(tostring) | join(" "))), \(.frames.width)x\(.frames.height); HOG boxes per frame: \([.detect.frames[].boxes | length] | map(tostring) | join(" ")) (\([.detect.frames[].boxes | length] | add) in all); box overlays: \(.detect.overlays.bound | length) frames, e.g. \(.detect.overlays.bound[0])"' \
    "$work/out.jsonl" >&2
fi
echo "demo: the clip is FFmpeg's testsrc2 pattern, which shows no person, so every HOG box on it is a" \
  "false positive: this shows the stages running and writing overlays, not detection quality" \
  "(tests/tools/test_real.cpp measures the detectors on real photographs)." >&2
