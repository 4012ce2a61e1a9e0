#!/usr/bin/env bash
# Starts N ranks of a vstar training command on this machine, with the environment torchrun gives
# its workers (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), and waits for them. When one
# rank fails the others stop too: they exit with an error at their next collective (at most
# --dist-timeout later); this script then ends them and returns the first failing status.
#
#   NPROC=2 bash share/vstar/launch/local.sh vs-sft --model M --output run -i sft.jsonl --batch 2
#
# NPROC (default 2) ranks; MASTER_PORT (default 29500, torchrun's) on 127.0.0.1. Rank 0 writes the
# records, metrics and checkpoints; rank r's stderr goes to $LOG_DIR/rank-r.log when LOG_DIR is set.
set -u
nproc=${NPROC:-2}
export MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
export MASTER_PORT=${MASTER_PORT:-29500}
export WORLD_SIZE=$nproc
if [ $# -eq 0 ]; then
  echo "usage: NPROC=N $0 COMMAND [ARGS...]" >&2
  exit 2
fi
pids=()
for ((r = 0; r < nproc; r++)); do
  if [ -n "${LOG_DIR:-}" ]; then
    mkdir -p "$LOG_DIR"
    RANK=$r LOCAL_RANK=$r "$@" 2>"$LOG_DIR/rank-$r.log" &
  else
    RANK=$r LOCAL_RANK=$r "$@" &
  fi
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid"
  rc=$?
  if [ $rc -ne 0 ] && [ $status -eq 0 ]; then
    status=$rc
    for other in "${pids[@]}"; do kill "$other" 2>/dev/null; done
  fi
done
exit $status
