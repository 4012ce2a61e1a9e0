#!/usr/bin/env bash
# Policy engine: vs-policy vs transformers generate (eager, sdpa) on the same random Qwen2.5-VL of a
# realistic shape (0.5B-class text stack, 4 vision blocks), a 16-frame video + ~200 text tokens, CPU,
# same thread count (BENCH_THREADS, default 2), one run, fp32 and bf16 (BENCH_DTYPES), batched bf16 decode
# (BENCH_BATCHES). Prints prefill seconds, decode tokens/s,
# the ratios, and decode tokens/s against the measured memory-bandwidth bound.
# Needs the real Qwen2.5-VL tokenizer files (../shared/assets/qwen2.5-vl), vs-policy (VSTAR_BIN_DIR)
# and the venv. The random model (~2.4 GB fp32) is kept in BENCH_WORK (default build/bench-policy).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
bin="${VSTAR_BIN_DIR:-$root/build/bin}"
assets="${VSTAR_SHARED:-$root/../shared}/assets/qwen2.5-vl"
py="${VSTAR_VENV:-$HOME/.local/share/vstar/venv}/bin/python"
work="${BENCH_WORK:-$(dirname "$bin")/bench-policy}"
[ -d "$assets" ] || { echo "SKIPPED: $assets is absent" >&2; exit 0; }
[ -x "$bin/vs-policy" ] || { echo "vs-policy not built in $bin" >&2; exit 1; }
"$py" "$here/policy.py" "$work" "$bin/vs-policy" "$assets"
