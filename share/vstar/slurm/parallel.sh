#!/usr/bin/env bash
# The same sharded evaluation on one machine (or over ssh with parallel's --sshlogin) with GNU
# parallel: N shards, JOBS at a time (default N), stopping at the first failed shard, then the merge.
# Rerunning with the same OUT resumes, as with submit.sh.
# usage: [JOBS=J] parallel.sh N OUT CHAIN [vs-eval options...]
set -euo pipefail
n=${1:?usage: parallel.sh N OUT CHAIN [vs-eval options...]}
out=${2:?usage: parallel.sh N OUT CHAIN [vs-eval options...]}
chain=${3:?usage: parallel.sh N OUT CHAIN [vs-eval options...]}
shift 3
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "parallel.sh: N must be a positive integer, not '$n'" >&2; exit 2; }
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$out/logs"
seq 0 $((n - 1)) | parallel --halt now,fail=1 -j "${JOBS:-$n}" \
  bash "$here/run-shard.sh" "$out" "$chain" {} "$n" '2>' "$out/logs/shard-{}.log"
bash "$here/merge.sh" "$out" "$n" "$@"
