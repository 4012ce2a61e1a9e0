#!/usr/bin/env bash
# Runs CHAIN for shard I of N: CHAIN gets SHARD=I/N and SHARD_DIR=OUT/shard-I and must leave the
# shard's scored records in $SHARD_DIR/pred.jsonl (chain-eval.sh is an example). The Slurm array task
# (eval-array.sbatch) and the GNU parallel recipe (parallel.sh) both run this.
# usage: run-shard.sh OUT CHAIN I N
set -euo pipefail
out=${1:?usage: run-shard.sh OUT CHAIN I N}
chain=${2:?usage: run-shard.sh OUT CHAIN I N}
i=${3:?usage: run-shard.sh OUT CHAIN I N}
n=${4:?usage: run-shard.sh OUT CHAIN I N}
export SHARD="$i/$n" SHARD_DIR="$out/shard-$i"
mkdir -p "$SHARD_DIR"
echo "vstar shard $SHARD on $(hostname): $chain -> $SHARD_DIR" >&2
bash "$chain"
test -f "$SHARD_DIR/pred.jsonl" || { echo "run-shard.sh: $chain left no $SHARD_DIR/pred.jsonl" >&2; exit 1; }
