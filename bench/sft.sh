#!/usr/bin/env bash
# SFT: vs-sft vs transformers' Trainer on the same tiny Qwen2.5-VL (tests/fixtures/model/tiny) and the
# same two-turn records with videos (tests/fixtures/train), CPU, float32, the same thread count
# (BENCH_THREADS, default 2), batch 1, BENCH_STEPS steps (default 40), one run each. Prints steps/s and
# peak RSS of both and the ratios. Needs vs-sft (VSTAR_BIN_DIR) and the venv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
bin="${VSTAR_BIN_DIR:-$root/build/bin}"
py="${VSTAR_VENV:-$HOME/.local/share/vstar/venv}/bin/python"
work="${BENCH_WORK:-$(dirname "$bin")/bench-sft}"
[ -x "$py" ] || { echo "SKIPPED: no virtualenv at $py" >&2; exit 0; }
[ -x "$bin/vs-sft" ] || { echo "vs-sft not built in $bin" >&2; exit 1; }
"$py" "$here/sft.py" "$work" "$bin/vs-sft"
