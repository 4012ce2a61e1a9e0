#!/usr/bin/env bash
# Submits a sharded evaluation to Slurm: an array job of N tasks, one per shard (eval-array.sbatch),
# and a merge job that starts when all of them succeeded (eval-merge.sbatch, --dependency=afterok).
# Prints the two job ids. Submitting again with the same OUT resumes: finished shards find every
# record done, interrupted ones process only what they lack. Logs go to OUT/logs/.
# usage: submit.sh N OUT CHAIN [vs-eval options...]
#   e.g. MANIFEST=m.jsonl ROOT=/data MODEL=ckpt CLASSES=classes.txt \
#        submit.sh 8 runs/eval share/vstar/slurm/chain-eval.sh --classes classes.txt
set -euo pipefail
n=${1:?usage: submit.sh N OUT CHAIN [vs-eval options...]}
out=${2:?usage: submit.sh N OUT CHAIN [vs-eval options...]}
chain=${3:?usage: submit.sh N OUT CHAIN [vs-eval options...]}
shift 3
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: N must be a positive integer, not '$n'" >&2; exit 2; }
VSTAR_SLURM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export VSTAR_SLURM_DIR
out=$(mkdir -p "$out/logs" && cd "$out" && pwd)
chain=$(cd "$(dirname "$chain")" && pwd)/$(basename "$chain")
array=$(sbatch --parsable --array=0-$((n - 1)) --output="$out/logs/shard-%a.log" \
  "$VSTAR_SLURM_DIR/eval-array.sbatch" "$out" "$chain")
array=${array%%;*}  # --parsable prints "id;cluster" on multi-cluster setups
merge=$(sbatch --parsable --dependency=afterok:"$array" --kill-on-invalid-dep=yes \
  --output="$out/logs/merge.log" "$VSTAR_SLURM_DIR/eval-merge.sbatch" "$out" "$n" "$@")
echo "$array ${merge%%;*}"
