#!/usr/bin/env bash
# An evaluation chain for one shard: decode -> policy -> reward, each stage writing its own file with
# --resume, so a restarted shard redoes only the records missing from each file. Only the first stage
# takes --shard; the later ones see that shard's records alone. run-shard.sh sets SHARD and
# SHARD_DIR; the rest comes from the environment:
#   MANIFEST  input records (id, video, label)   ROOT     directory the videos are relative to
#   MODEL     vs-policy checkpoint directory     CLASSES  candidate list (vs-policy, vs-reward)
#   SAMPLE    vs-decode --sample (uniform:8)     SHARD_BY --shard-by (id)
#   POLICY_FLAGS  further vs-policy flags, split on spaces (e.g. "--profile official --batch 8")
# A stage that ends with exit 3 (some records carry an error) is not a failure: those records go on
# to the report, which counts them.
set -euo pipefail
: "${SHARD:?} ${SHARD_DIR:?} ${MANIFEST:?} ${ROOT:?} ${MODEL:?} ${CLASSES:?}"
stage() { "$@" || { local rc=$?; [ "$rc" -eq 3 ] || exit "$rc"; }; }
stage vs-decode --root "$ROOT" --sample "${SAMPLE:-uniform:8}" --shard "$SHARD" \
  --shard-by "${SHARD_BY:-id}" --resume --progress never -i "$MANIFEST" -o "$SHARD_DIR/frames.jsonl"
# shellcheck disable=SC2086  # POLICY_FLAGS is a list of flags
stage vs-policy --model "$MODEL" --candidates "$CLASSES" ${POLICY_FLAGS:-} --resume --progress never \
  -i "$SHARD_DIR/frames.jsonl" -o "$SHARD_DIR/policy.jsonl"
stage vs-reward --classes "$CLASSES" --resume --progress never -i "$SHARD_DIR/policy.jsonl" \
  -o "$SHARD_DIR/pred.jsonl"
