#!/usr/bin/env bash
# GRPO: one step of vs-grpo vs TRL's GRPOTrainer (trl pinned in tools/requirements.txt) on the tiny
# Qwen2.5-VL of tests/fixtures (G = 4, the same completion length, beta 0, CPU, the same thread count
# BENCH_THREADS, default 2), one run each. TRL gets the clean profile's turn-1 text as a text-only
# prompt (its GRPOTrainer takes no video); vs-grpo gets the same text with the fixture's 4-frame video
# and runs both turns, so the comparison is conservative for vstar. Prints each side's wall seconds
# and peak RSS, and the ratios.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
bin="${VSTAR_BIN_DIR:-$root/build/bin}"
py="${VSTAR_VENV:-$HOME/.local/share/vstar/venv}/bin/python"
work="${BENCH_WORK:-$(dirname "$bin")/bench-grpo}"
[ -x "$bin/vs-grpo" ] || { echo "vs-grpo not built in $bin" >&2; exit 1; }
"$py" "$here/grpo.py" "$work" "$bin/vs-grpo" "$root"
