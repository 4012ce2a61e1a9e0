#!/usr/bin/env bash
# Tokenizer: vstar (lib/model/tokenizer) vs HF `tokenizers` (via transformers' Qwen2TokenizerFast) on the
# real Qwen2.5-VL files: load time and single-thread encode throughput on the same text.
# Needs ../shared/assets/qwen2.5-vl, a built test-model (VSTAR_BIN_DIR, default build/bin) and the venv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
bin="${VSTAR_BIN_DIR:-${VSTAR_BUILD_DIR:-$root/build}/bin}"
assets="${VSTAR_SHARED:-$root/../shared}/assets/qwen2.5-vl"
py="${VSTAR_VENV:-$HOME/.local/share/vstar/venv}/bin/python"
[ -d "$assets" ] || { echo "SKIPPED: $assets is absent" >&2; exit 0; }
[ -x "$bin/test-model" ] || { echo "SKIPPED: $bin/test-model not built" >&2; exit 0; }
text="$(mktemp)"; res="$(mktemp -d)"; trap 'rm -rf "$text" "$res"' EXIT
# The same text for both: $1 (any UTF-8 file, e.g. /usr/share/common-licenses/GPL-3), default the golden
# corpus (whitespace runs, CJK, emoji, long random Unicode); repeated to 4 MiB.
src="${1:-}"
"$py" - "$root/tests/fixtures/model/tokenizer/cases.json" "$text" "$src" <<'PY'
import json, sys
if sys.argv[3]:
    s = open(sys.argv[3], encoding="utf-8", newline="").read()
else:
    s = "".join(c["text"] + "\n" for c in json.load(open(sys.argv[1]))["encode"])
while len(s.encode()) < 4 << 20: s += s
open(sys.argv[2], "w", encoding="utf-8", newline="").write(s)
PY
echo "vstar:" >&2
VSTAR_BENCH_TEXT="$text" "$bin/test-model" "tokenizer: load time and encode throughput" | grep '^{' |
  tee "$res/vstar.json"
echo "HF tokenizers $("$py" -c 'import tokenizers; print(tokenizers.__version__)'):" >&2
RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false "$py" - "$assets" "$text" <<'PY' | tee "$res/hf.json"
import json, sys, tempfile, time
import tokenizers
from transformers import AutoTokenizer
t0 = time.perf_counter()
tok = AutoTokenizer.from_pretrained(sys.argv[1])  # converts vocab.json + merges.txt (slow path)
load = time.perf_counter() - t0
with tempfile.TemporaryDirectory() as d:
    tok.backend_tokenizer.save(d + "/tokenizer.json")
    t0 = time.perf_counter()
    raw = tokenizers.Tokenizer.from_file(d + "/tokenizer.json")  # native load of the same tokenizer
    load_json = time.perf_counter() - t0
text = open(sys.argv[2], encoding="utf-8", newline="").read()
n = len(text.encode())
t1 = time.perf_counter(); ids = raw.encode(text, add_special_tokens=False).ids; cold = time.perf_counter() - t1
t2 = time.perf_counter(); raw.encode(text, add_special_tokens=False); warm = time.perf_counter() - t2
lines = text.split("\n")
t3 = time.perf_counter(); enc = raw.encode_batch(lines, add_special_tokens=False); per_line = time.perf_counter() - t3
print(json.dumps({"load_s": round(load, 4), "load_tokenizer_json_s": round(load_json, 4), "bytes": n, "tokens": len(ids),
                  "encode_cold_MBps": round(n / cold / 1e6, 2), "encode_warm_MBps": round(n / warm / 1e6, 2),
                  "lines": len(lines), "line_tokens": sum(len(e.ids) for e in enc),
                  "encode_lines_MBps": round(n / per_line / 1e6, 2)}))
PY
"$py" - "$here" "$res/vstar.json" "$res/hf.json" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
from rows import row
import tokenizers
v, h = (json.loads(open(f).read().strip().splitlines()[-1]) for f in sys.argv[2:4])
peer = f"HF tokenizers {tokenizers.__version__}"
row("tokenizer", "load vocab.json + merges.txt", "s", v["load_s"], peer + " (from_pretrained)", h["load_s"], "time")
row("tokenizer", "encode 4 MiB, warm, 1 thread", "MB/s", v["encode_warm_MBps"], peer, h["encode_warm_MBps"])
row("tokenizer", "encode line by line, 1 thread", "MB/s", v["encode_lines_MBps"], peer, h["encode_lines_MBps"])
PY
