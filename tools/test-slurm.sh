#!/usr/bin/env bash
# make test-slurm: the share/vstar/slurm recipes on a real Slurm cluster of one node, this host, on
# loopback. Installs Debian's slurm-wlm, munge and parallel when absent (apt-get: needs root), starts
# munged, slurmctld and slurmd with a private configuration, key, ports and state directory under a
# temporary directory, then:
#   1. one run of share/vstar/slurm/chain-eval.sh (vs-decode -> vs-policy with the tiny test model ->
#      vs-reward) over a miniature world from vs-synth, scored by merge.sh: the reference report;
#   2. submit.sh 4: an array job of 4 shards and the dependent merge job; waits for both, and checks
#      that the shards are disjoint and cover the manifest, that their records equal the single run's
#      (apart from timings) and the merged report equals the single run's (markdown byte for byte,
#      JSON apart from the measured seconds_per_video);
#   3. a restarted array task: the largest shard's outputs are cut back to one record and a torn
#      line, everything is submitted again, and only that shard's missing records run (the other
#      shards process none);
#   4. parallel.sh 4 (GNU parallel, 2 at a time): the same report.
# Stops the daemons it started and removes the directory (kept with VSTAR_KEEP=1).
# usage: tools/test-slurm.sh [BIN_DIR]   (default build/bin)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$(cd "${1:-$root/build/bin}" && pwd)
share=$root/share/vstar/slurm
export PATH="$bin:$PATH"
say() { echo "test-slurm: $*" >&2; }
fail() { say "FAIL: $*"; exit 1; }
[ -x "$bin/vs-policy" ] || fail "no vs-policy in $bin (build first)"

# ---- packages -----------------------------------------------------------------------------------
missing=()
for prog in sbatch:slurm-client slurmctld:slurmctld slurmd:slurmd munged:munge parallel:parallel; do
  command -v "${prog%%:*}" > /dev/null || missing+=("${prog##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || fail "missing ${missing[*]}; installing them needs root (apt-get)"
  say "installing ${missing[*]} (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi

# ---- a private cluster ----------------------------------------------------------------------------
work=$(mktemp -d /tmp/vstar-slurm.XXXXXX)
chmod 700 "$work"
cleanup() {
  local rc=$?
  for f in "$work/slurmd.pid" "$work/slurmctld.pid" "$work/munge/munged.pid"; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2> /dev/null || continue
    for ((t = 0; t < 50; t++)); do kill -0 "$pid" 2> /dev/null || break; sleep 0.2; done
  done
  if [ "$rc" -ne 0 ]; then
    for log in "$work"/slurmctld.log "$work"/slurmd.log "$work"/*/logs/*.log; do
      [ -f "$log" ] && { echo "---- $log (last lines)" >&2; tail -n 15 "$log" >&2; }
    done
  fi
  if [ "${VSTAR_KEEP:-0}" = 1 ]; then say "kept $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT

mkdir -p "$work/munge" "$work/state" "$work/spool"
chmod 700 "$work/munge"
if command -v mungekey > /dev/null; then
  mungekey --create --keyfile="$work/munge/munge.key"
else
  dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
fi
chmod 600 "$work/munge/munge.key"
munged --force --key-file="$work/munge/munge.key" --socket="$work/munge/munge.socket" \
  --pid-file="$work/munge/munged.pid" --log-file="$work/munge/munged.log" \
  --seed-file="$work/munge/munged.seed"

host=$(hostname -s)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ctld_port=$(free_port)
slurmd_port=$(free_port)
cpus=$(nproc)
export SLURM_CONF="$work/slurm.conf"
cat > "$SLURM_CONF" << EOF
ClusterName=vstartest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$work/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -c
slurmd -N "$host"
for ((t = 0; ; t++)); do
  state=$(sinfo -h -N -o %T 2> /dev/null || true)
  [ "$state" = idle ] && break
  [ "$t" -lt 60 ] || fail "node not idle after 60 s (sinfo: '$state')"
  sleep 1
done
say "cluster up ($(sbatch --version), $(munged --version 2>&1 | head -1), $(parallel --version | head -1)):" \
  "$(sinfo -h -o 'partition %P, %D node, %c CPUs, %T')"

# ---- the evaluation -------------------------------------------------------------------------------
world=$work/world
vs-synth --out "$world" --split base --per-class 1 --seed 11 --seconds 1 --progress never 2> /dev/null
export MANIFEST=$world/manifest.jsonl ROOT=$world CLASSES=$world/classes.txt SAMPLE=uniform:4
export MODEL=$root/tests/fixtures/model/tiny/model VSTAR_CACHE=$work/cache
export POLICY_FLAGS="--dtype fp32 --device cpu --max-new-tokens 8 --video-max-pixels 25088 --tools none --batch 1"
records=$(grep -c . "$MANIFEST")
say "manifest: $records clips; single run"
start=$SECONDS
bash "$share/run-shard.sh" "$work/single" "$share/chain-eval.sh" 0 1 2> "$work/single.log" ||
  { cat "$work/single.log" >&2; fail "single run"; }
bash "$share/merge.sh" "$work/single" 1 --classes "$CLASSES" 2>> "$work/single.log"
say "single run: $((SECONDS - start)) s"

wait_jobs() {  # waits until the jobs have left the queue
  for ((t = 0; ; t++)); do
    [ -z "$(squeue -h -j "$1" -o %i 2> /dev/null)" ] && return 0
    [ "$t" -lt 900 ] || fail "jobs $1 still queued after 900 s: $(squeue -h -j "$1")"
    sleep 1
  done
}
same_report() {  # $1 = run directory; compares its records and report with the single run's
  [ -f "$1/report.md" ] || fail "$1: no report.md"
  python3 - "$work/single/shard-0/pred.jsonl" "$1"/shard-*/pred.jsonl << 'EOF' || fail "$1: the records differ"
import json, sys
def strip(v):  # timings are measured, not computed
    if isinstance(v, dict): return {k: strip(x) for k, x in v.items() if k not in ("timing", "seconds")}
    if isinstance(v, list): return [strip(x) for x in v]
    return v
def records(paths):
    recs = [strip(json.loads(l)) for p in paths for l in open(p) if l.strip()]
    return sorted(recs, key=lambda r: r["id"])
sys.exit(0 if records(sys.argv[1:2]) == records(sys.argv[2:]) else 1)
EOF
  cmp "$work/single/report.md" "$1/report.md" || { diff "$work/single/report.md" "$1/report.md" >&2; fail "$1: report.md differs"; }
  python3 - "$work/single/report.json" "$1/report.json" << 'EOF' || fail "$1: report.json differs"
import json, sys
def strip(v):  # seconds_per_video is measured, not computed from the records
    if isinstance(v, dict): return {k: strip(x) for k, x in v.items() if k != "seconds_per_video"}
    if isinstance(v, list): return [strip(x) for x in v]
    return v
a, b = (strip(json.load(open(p))) for p in sys.argv[1:])
sys.exit(0 if a == b else 1)
EOF
}
shard_ids() { python3 -c 'import json,sys; [print(json.loads(l)["id"]) for l in open(sys.argv[1]) if l.strip()]' "$1"; }

say "submitting 4 shards and the merge (submit.sh)"
start=$SECONDS
read -r array merge < <(bash "$share/submit.sh" 4 "$work/slurm" "$share/chain-eval.sh" --classes "$CLASSES")
say "array job $array, merge job $merge (afterok:$array)"
wait_jobs "$array,$merge"
say "slurm run: $((SECONDS - start)) s; $(grep -h 'vstar shard' "$work"/slurm/logs/shard-*.log | sort | tr '\n' ';')"
same_report "$work/slurm"
for i in 0 1 2 3; do shard_ids "$work/slurm/shard-$i/pred.jsonl"; done | sort > "$work/sharded.ids"
shard_ids "$MANIFEST" | sort > "$work/manifest.ids"
cmp "$work/manifest.ids" "$work/sharded.ids" || fail "the shards do not hold every record exactly once"
for i in 0 1 2 3; do
  say "  shard $i/4: $(grep -c . "$work/slurm/shard-$i/pred.jsonl") records"
done
say "OK: 4 shards on Slurm + merge == one run ($records records)"

r=0
for i in 1 2 3; do
  [ "$(grep -c . "$work/slurm/shard-$i/pred.jsonl")" -gt "$(grep -c . "$work/slurm/shard-$r/pred.jsonl")" ] && r=$i
done
sr=$work/slurm/shard-$r
nr=$(grep -c . "$sr/pred.jsonl")
[ "$nr" -ge 2 ] || fail "the largest shard has $nr records; the restart check needs 2"
say "restart: shard $r cut back to 1 of its $nr records and a torn line, everything resubmitted"
for f in frames policy pred; do
  { head -n 1 "$sr/$f.jsonl"; sed -n 2p "$sr/$f.jsonl" | head -c 20; } > "$sr/$f.cut"
  mv "$sr/$f.cut" "$sr/$f.jsonl"
done
rm -f "$work/slurm/report.md" "$work/slurm/report.json"
read -r array merge < <(bash "$share/submit.sh" 4 "$work/slurm" "$share/chain-eval.sh" --classes "$CLASSES")
wait_jobs "$array,$merge"
same_report "$work/slurm"
for stage in decode policy reward; do
  grep -q "vs-$stage: done $((nr - 1)) records" "$work/slurm/logs/shard-$r.log" ||
    fail "restarted shard $r: vs-$stage did not run exactly its $((nr - 1)) missing records"
done
grep -q "dropping an incomplete last line" "$work/slurm/logs/shard-$r.log" || fail "no torn line dropped"
for i in 0 1 2 3; do
  [ "$i" = "$r" ] && continue
  grep -q "vs-policy: done 0 records" "$work/slurm/logs/shard-$i.log" ||
    fail "finished shard $i ran records again"
done
say "OK: restarted shard $r ran only its $((nr - 1)) missing records, the finished shards none; same report"

say "GNU parallel: parallel.sh 4, 2 at a time"
start=$SECONDS
JOBS=2 bash "$share/parallel.sh" 4 "$work/parallel" "$share/chain-eval.sh" --classes "$CLASSES" 2> "$work/parallel.log" ||
  { cat "$work/parallel.log" >&2; fail "parallel.sh"; }
same_report "$work/parallel"
say "OK: parallel.sh 4 shards + merge == one run ($((SECONDS - start)) s)"
echo "---- merged report (vs-eval markdown)" >&2
cat "$work/slurm/report.md" >&2
say "PASS"
