#!/usr/bin/env bash
# Pose: vs-pose (yolo plugin, LibTorch) vs ultralytics `predict`, same TorchScript, same frames, CPU.
# The model is a full-size yolo11n-pose built from the ultralytics YAML (random weights, no download)
# and exported with ultralytics' TorchScript exporter into a temp dir. Frames: 32 frames of a real clip.
# Throughput excludes start-up: vs-pose is timed on 1 and on 1+N frames and the difference is used;
# ultralytics is timed in-process after a warm-up image. Prints images/s for both from wall time and
# from CPU time (user+sys: steadier on a shared machine), and rows (bench/rows.py) with the ratios.
# Needs vs-pose and the yolo plugin (VSTAR_BIN_DIR, default build/bin), ../shared and the venv.
# VSTAR_BENCH_FRAMES (default 32) sets N.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
bin="${VSTAR_BIN_DIR:-${VSTAR_BUILD_DIR:-$root/build}/bin}"
clip="${VSTAR_SHARED:-$root/../shared}/assets/videos/kinetics/clean_and_jerk.mp4"
py="${VSTAR_VENV:-$HOME/.local/share/vstar/venv}/bin/python"
n="${VSTAR_BENCH_FRAMES:-32}"
[ -f "$clip" ] || { echo "SKIPPED: $clip is absent" >&2; exit 0; }
[ -x "$bin/vs-pose" ] || { echo "SKIPPED: $bin/vs-pose not built" >&2; exit 0; }
[ -x /usr/bin/time ] || { echo "SKIPPED: /usr/bin/time (package time) not installed" >&2; exit 0; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
ffmpeg -v error -i "$clip" -vf fps=4 -frames:v $((n + 1)) "$tmp/%03d.png"
(cd "$tmp" && "$py" - > /dev/null 2>&1 <<'PY'
import torch, yaml, ultralytics
from pathlib import Path
from ultralytics import YOLO
cfg = yaml.safe_load((Path(ultralytics.__file__).parent / "cfg/models/11/yolo11-pose.yaml").read_text())
cfg["nc"] = 1  # one class, person, as the released yolo11n-pose
Path("yolo11n-pose.yaml").write_text(yaml.safe_dump(cfg))
torch.manual_seed(0)
m = YOLO("yolo11n-pose.yaml", task="pose")
m.model.names = {0: "person"}
m.export(format="torchscript", imgsz=640, device="cpu", verbose=False)
PY
)
model="$tmp/yolo11n-pose.torchscript"
record() { "$py" -c 'import json,sys; print(json.dumps({"id":"b","frames":{"paths":sys.argv[1:]}}))' "$@"; }
frames=("$tmp"/[0-9]*.png)
record "${frames[0]}" > "$tmp/one.jsonl"
record "${frames[@]}" > "$tmp/all.jsonl"
# Runs a command, prints "wall cpu" seconds.
timeit() { /usr/bin/time -f "%e %U %S" -o "$tmp/t.raw" "$@" > /dev/null; awk '{print $1, $2 + $3}' "$tmp/t.raw"; }
# Both sides use ultralytics' CPU thread count (min(8, cores - 1)): on a loaded machine the thread count
# matters more than anything else, so it must be equal.
threads=$("$py" -c 'from ultralytics.utils import NUM_THREADS; print(NUM_THREADS)' 2>/dev/null)
# fp32 as ultralytics, and bf16 weights and activations (the plugin's dtype=bf16) where the CPU has
# native bf16 (AVX512-BF16 or AMX; oneDNN emulates it, slower than fp32, elsewhere).
dtypes=(fp32)
grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo && dtypes+=(bf16)
for dtype in "${dtypes[@]}"; do
  for batch in 1 8; do
    args=(--plugin yolo --model "$model" --device cpu --log-level error --plugin-opt batch=$batch
      --plugin-opt threads=$threads --plugin-opt dtype=$dtype)
    # Start-up time is the fastest of two one-frame runs: load noise only ever adds time, and
    # taken from both terms of the difference it can make the difference negative.
    read -r w1 c1 < <(timeit "$bin/vs-pose" "${args[@]}" -i "$tmp/one.jsonl")
    read -r w1b c1b < <(timeit "$bin/vs-pose" "${args[@]}" -i "$tmp/one.jsonl")
    w1=$(echo "if ($w1b < $w1) $w1b else $w1" | bc -l) c1=$(echo "if ($c1b < $c1) $c1b else $c1" | bc -l)
    read -r wn cn < <(timeit "$bin/vs-pose" "${args[@]}" -i "$tmp/all.jsonl")
    ips=$(echo "$n / ($wn - $w1)" | bc -l)
    ipc=$(echo "$n / ($cn - $c1)" | bc -l)
    printf '{"impl":"vs-pose","dtype":"%s","batch":%d,"threads":%d,"frames":%d,"images_per_s":%.2f,"images_per_cpu_s":%.2f}\n' \
      "$dtype" "$batch" "$threads" "$n" "$ips" "$ipc"
    eval "vs_${dtype}_$batch=$ips vsc_${dtype}_$batch=$ipc"
  done
done
read -r ul ulc < <("$py" - "$model" "${frames[@]}" <<'PY' 2>/dev/null | tail -n 1
import sys, time, ultralytics
from ultralytics import YOLO
m = YOLO(sys.argv[1], task="pose")
m.predict(sys.argv[2], device="cpu", verbose=False)  # warm-up: load + first image
t0, c0 = time.perf_counter(), time.process_time()
for f in sys.argv[3:]:
    m.predict(f, device="cpu", verbose=False)
dt, dc = time.perf_counter() - t0, time.process_time() - c0
print(len(sys.argv[3:]) / dt, len(sys.argv[3:]) / dc)
PY
)
peer="ultralytics $("$py" -c 'import ultralytics; print(ultralytics.__version__)') predict"
printf '{"impl":"%s","batch":1,"threads":%d,"frames":%d,"images_per_s":%.2f,"images_per_cpu_s":%.2f}\n' \
  "$peer" "$threads" "$n" "$ul" "$ulc"
for dtype in "${dtypes[@]}"; do
  for batch in 1 8; do
    eval "v=\$vs_${dtype}_$batch vc=\$vsc_${dtype}_$batch"
    row="yolo11n-pose, $dtype, batch $batch, $threads thread(s)"
    "$py" "$here/rows.py" row pose "$row" images/s "$v" "$peer" "$ul" higher 1.3
    "$py" "$here/rows.py" row pose "$row, CPU time" images/cpu-s "$vc" "$peer" "$ulc" higher 1.3
  done
done
