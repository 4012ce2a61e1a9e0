#!/usr/bin/env bash
# Under srun: exports the launcher variables vstar's training reads from Slurm's own, then runs
# the command. MASTER_ADDR is the job's first node unless set; MASTER_PORT defaults to 29500.
#   srun bash share/vstar/launch/srun-env.sh vs-sft ...
set -eu
export RANK=${SLURM_PROCID:?not under srun}
export WORLD_SIZE=${SLURM_NTASKS:?not under srun}
export LOCAL_RANK=${SLURM_LOCALID:-0}
export MASTER_PORT=${MASTER_PORT:-29500}
if [ -z "${MASTER_ADDR:-}" ]; then
  MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
  export MASTER_ADDR
fi
exec "$@"
