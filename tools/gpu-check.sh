#!/usr/bin/env bash
# The checks of vs-sft and vs-grpo that need a GPU, as one command writing one log: the same runs on
# the CPU and on --device (cuda by default) for a few steps in fp32, compared within stated
# tolerances; bf16 runs on the device that must finish; steps/s of each device run. Two models: the
# tiny test checkpoint (tests/fixtures/model/tiny) and a random checkpoint of Qwen2.5-VL-3B's widths
# with two decoder layers and two vision blocks that vs-init writes here (its tokenizer trained on the
# check's SFT records, so the vocabulary, unlike the widths, is small).
#
#   tools/gpu-check.sh [BUILD_DIR]        (default: build; needs BUILD_DIR/bin/vs-sft, vs-grpo, vs-init)
#
# Environment: DEVICE (cuda), LOG (the log; default $OUT/gpu-check.log when OUT is set, else
# gpu-check.log in the work directory), WORK (scratch directory; default a new one under /tmp),
# BIG (1: also the 3B-shaped model; 0 skips it), PYTHON (python3). Exit status 0 when every check
# passed, 1 otherwise.
# Sized for one H200 in well under 10 minutes; DEVICE=cpu BIG=0 runs every part on a CPU.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-${BUILD:-$here/build}}" && pwd) || { echo "gpu-check: no build directory" >&2; exit 1; }
bin=$build/bin
device=${DEVICE:-cuda}
py=${PYTHON:-python3}
big=${BIG:-1}
work=${WORK:-$(mktemp -d /tmp/vstar-gpu-check.XXXXXX)}
mkdir -p "$work"
log=${LOG:-${OUT:+$OUT/gpu-check.log}}
log=${log:-$work/gpu-check.log}
exec > >(tee -a "$log") 2>&1

tiny=$here/tests/fixtures/model/tiny/model
media=$here/tests/fixtures/model/tiny/media
pixels=$((84 * 56))  # the tiny frames' own size: no resize
failed=0 passed=0

for b in vs-sft vs-grpo vs-init; do
  [ -x "$bin/$b" ] || { echo "gpu-check: $bin/$b is missing (build first)"; exit 1; }
done

echo "== gpu-check $(date -u +%FT%TZ) on $(hostname): device $device, build $build"
git -C "$here" describe --always --dirty 2>/dev/null | sed 's/^/commit /'
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
echo "work directory $work, log $log"

# --- data: the SFT golden records (frame paths made absolute) and two GRPO prompt records --------
"$py" - "$here" "$work" "$media" <<'EOF'
import json, sys, os
here, work, media = sys.argv[1:4]
with open(os.path.join(here, "tests/fixtures/train/records.jsonl")) as f, open(os.path.join(work, "sft.jsonl"), "w") as out:
    for line in f:
        if not line.strip():
            continue
        rec = json.loads(line)
        for m in rec["messages"]:
            if isinstance(m["content"], list):
                for it in m["content"]:
                    if it.get("type") == "video":
                        it["frames"] = [os.path.join(here, p) for p in it["frames"]]
                    if it.get("type") == "image":
                        it["path"] = os.path.join(here, it["path"])
        out.write(json.dumps(rec) + "\n")
with open(os.path.join(work, "prompts.jsonl"), "w") as out:
    for rid, label, first in (("a", "run", 0), ("b", "jump", 1)):
        paths = [os.path.join(media, "vid4_%d.png" % ((first + f) % 4)) for f in range(4)]
        out.write(json.dumps({"id": rid, "label": label, "frames": {"paths": paths, "sample_fps": 2.0}}) + "\n")
with open(os.path.join(work, "classes.txt"), "w") as out:
    out.write("run\njump\n")
# The GRPO reward: a tenth of each completion's length in characters, so that a random model's
# rollouts differ in reward and the gradients compared below are not zero (vs-reward's protocol:
# the record in, the record with "reward" out).
with open(os.path.join(work, "length_reward.py"), "w") as out:
    out.write("import json, sys\n"
              "for line in sys.stdin:\n"
              "    r = json.loads(line)\n"
              "    r['reward'] = {'completions': [{'total': len(c['text']) / 10} for c in r['completions']]}\n"
              "    print(json.dumps(r), flush=True)\n")
EOF
[ -s "$work/sft.jsonl" ] || { echo "gpu-check: could not write the data"; exit 1; }

# --- the 3B-shaped model: Qwen2.5-VL-3B's widths (text 2048/11008, 16 heads, 2 KV heads, mrope
#     16/24/24; vision 1280/3420, 16 heads, merger to 2048), two decoder layers and two vision blocks
if [ "$big" = 1 ]; then
  "$py" - "$tiny/config.json" "$work/3b.config.json" <<'EOF'
import json, sys
cfg = json.load(open(sys.argv[1]))
t, v = cfg["text_config"], cfg["vision_config"]
t.update(hidden_size=2048, intermediate_size=11008, num_attention_heads=16, num_key_value_heads=2,
         num_hidden_layers=2, layer_types=["full_attention"] * 2)
t["rope_scaling"]["mrope_section"] = [16, 24, 24]
v.update(depth=2, fullatt_block_indexes=[1], hidden_size=1280, intermediate_size=3420, num_heads=16,
         out_hidden_size=2048)
cfg["tie_word_embeddings"] = True
json.dump(cfg, open(sys.argv[2], "w"), indent=2)
EOF
  "$bin/vs-init" --out "$work/m3b" --config "$work/3b.config.json" --corpus "$work/sft.jsonl" --seed 0 --force \
    || { echo "gpu-check: vs-init failed"; exit 1; }
fi

result() {  # result NAME STATUS DETAIL
  if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "PASS $1 $3"; else failed=$((failed + 1)); echo "FAIL $1 $3"; fi
}

# run_sft NAME MODEL DEVICE DTYPE STEPS [FLAGS...]: metrics in $work/NAME.jsonl
run_sft() {
  local name=$1 model=$2 dev=$3 dtype=$4 steps=$5
  shift 5
  rm -rf "$work/$name" "$work/$name.jsonl"
  local t0=$SECONDS
  "$bin/vs-sft" --model "$model" --output "$work/$name" -i "$work/sft.jsonl" --device "$dev" --dtype "$dtype" \
    --max-steps "$steps" --batch 2 --lr 1e-3 --schedule constant --video-max-pixels "$pixels" \
    --metrics "$work/$name.jsonl" --log-level warn "$@"
  local rc=$?
  echo "   $name: exit $rc, $((SECONDS - t0)) s wall"
  return $rc
}

# run_grpo NAME MODEL DEVICE DTYPE STEPS [FLAGS...]
run_grpo() {
  local name=$1 model=$2 dev=$3 dtype=$4 steps=$5
  shift 5
  rm -rf "$work/$name" "$work/$name.jsonl"
  local t0=$SECONDS
  "$bin/vs-grpo" --model "$model" --output "$work/$name" -i "$work/prompts.jsonl" --profile clean \
    --candidates "$work/classes.txt" --device "$dev" --dtype "$dtype" --max-steps "$steps" -G 4 --batch 2 \
    --seed 3 --lr 1e-3 --schedule constant --max-new-tokens 16 --video-max-pixels "$pixels" \
    --temporal-index-mode int_spg --reward-cmd "$py $work/length_reward.py" --metrics "$work/$name.jsonl" \
    --log-level warn "$@"
  local rc=$?
  echo "   $name: exit $rc, $((SECONDS - t0)) s wall"
  return $rc
}

# compare KIND A B: the first steps of two fp32 runs. SFT: loss within 1e-4 relative, grad norm
# within 1e-3 (CUDA kernels sum in other orders than the CPU's). GRPO: the rollouts come from the
# CPU sampler with the same seeds, so rewards and completion lengths must be equal; grad norm within
# 1e-3 relative (a GRPO loss with one update is about 0 by construction, so it is not compared).
compare() {
  "$py" - "$1" "$work/$2.jsonl" "$work/$3.jsonl" <<'EOF'
import json, sys
kind, a, b = sys.argv[1:4]
A = [json.loads(l) for l in open(a) if l.strip()]
B = [json.loads(l) for l in open(b) if l.strip()]
assert len(A) == len(B) and A, "step counts differ: %d vs %d" % (len(A), len(B))
def rel(x, y):
    return abs(x - y) / max(abs(y), 1e-12)
worst = {}
for x, y in zip(A, B):
    if kind == "sft":
        worst["loss"] = max(worst.get("loss", 0), rel(x["loss"], y["loss"]))
        assert rel(x["loss"], y["loss"]) <= 1e-4, "step %d loss %r vs %r" % (x["step"], x["loss"], y["loss"])
    else:
        assert x["reward"] == y["reward"], "step %d reward %r vs %r" % (x["step"], x["reward"], y["reward"])
        assert x["completion_length"] == y["completion_length"], "step %d lengths differ" % x["step"]
        assert y["grad_norm"] > 0, "step %d: zero gradient, nothing compared" % y["step"]
    worst["grad_norm"] = max(worst.get("grad_norm", 0), rel(x["grad_norm"], y["grad_norm"]))
    assert rel(x["grad_norm"], y["grad_norm"]) <= 1e-3, "step %d grad norm %r vs %r" % (x["step"], x["grad_norm"], y["grad_norm"])
print("   worst relative differences: " + ", ".join("%s %.2e" % kv for kv in worst.items()))
EOF
}

# speed NAME: steps/s of a run from its metrics (the first step, which warms up, left out when there
# are more), and that every logged number is finite.
speed() {
  "$py" - "$work/$1.jsonl" <<'EOF'
import json, math, sys
M = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
assert M, "no metrics"
for m in M:
    for k in ("loss", "grad_norm"):
        assert math.isfinite(m[k]), "step %d %s is %r" % (m["step"], k, m[k])
timed = M[1:] if len(M) > 1 else M
s = sum(m["seconds"] for m in timed)
print("   %d steps, %.3f steps/s over steps %d-%d, last loss %.4f" % (len(M), len(timed) / s, timed[0]["step"], timed[-1]["step"], M[-1]["loss"]))
EOF
}

models=("tiny:$tiny")
[ "$big" = 1 ] && models+=("3b:$work/m3b")
for entry in "${models[@]}"; do
  m=${entry%%:*} dir=${entry#*:}
  echo "== vs-sft, $m model"
  run_sft "sft-$m-cpu" "$dir" cpu fp32 3 && run_sft "sft-$m-dev" "$dir" "$device" fp32 3
  rc=$?
  [ $rc = 0 ] && { compare sft "sft-$m-dev" "sft-$m-cpu"; rc=$?; }
  result "sft-$m-fp32-$device-equals-cpu" $rc "(3 steps; loss 1e-4, grad norm 1e-3 relative)"
  run_sft "sft-$m-bf16" "$dir" "$device" bf16 10 --gradient-checkpointing && speed "sft-$m-bf16"
  result "sft-$m-bf16-$device" $? "(10 steps, gradient checkpointing)"
  [ -f "$work/sft-$m-dev.jsonl" ] && { echo "   fp32 on $device:"; speed "sft-$m-dev"; }

  echo "== vs-grpo, $m model"
  run_grpo "grpo-$m-cpu" "$dir" cpu fp32 2 && run_grpo "grpo-$m-dev" "$dir" "$device" fp32 2
  rc=$?
  [ $rc = 0 ] && { compare grpo "grpo-$m-dev" "grpo-$m-cpu"; rc=$?; }
  result "grpo-$m-fp32-$device-equals-cpu" $rc "(2 steps; rewards and lengths equal, grad norm 1e-3 relative)"
  run_grpo "grpo-$m-bf16" "$dir" "$device" bf16 4 && speed "grpo-$m-bf16"
  result "grpo-$m-bf16-$device" $? "(4 steps)"
done

if [ -x "$bin/test-train" ]; then
  echo "== test-train's device case (on a GPU it trains on cuda and compares with the CPU)"
  "$bin/test-train" "vs-sft --device cpu equals the default bit for bit and a CUDA request without CUDA exits 2"
  result "test-train-device-case" $? ""
fi

echo "== gpu-check: $passed passed, $failed failed (log $log)"
[ "$failed" = 0 ]
