#!/usr/bin/env bash
# torchrun starts the ranks: it serves the rendezvous store on MASTER_PORT and sets RANK,
# LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT and TORCHELASTIC_USE_AGENT_STORE for each
# worker; --no-python runs the vstar binary itself. One node, 8 GPUs:
#
#   bash share/vstar/launch/torchrun.sh 8 vs-grpo --model M --output run -i prompts.jsonl --device cuda
#
# Several nodes: run it on each with NNODES, NODE_RANK and MASTER_ADDR (rank 0's host) set.
set -eu
nproc=${1:?usage: $0 NPROC COMMAND [ARGS...]}
shift
exec torchrun --nnodes="${NNODES:-1}" --node-rank="${NODE_RANK:-0}" --nproc-per-node="$nproc" \
  --master-addr="${MASTER_ADDR:-127.0.0.1}" --master-port="${MASTER_PORT:-29500}" \
  --no-python "$(command -v "$1")" "${@:2}"
