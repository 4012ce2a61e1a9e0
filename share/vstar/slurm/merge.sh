#!/usr/bin/env bash
# Merges the N shards' records into one report: the shard outputs concatenated are the records of
# one run (each record in exactly one shard), so vs-eval over them gives that run's report.
# Writes OUT/report.md (vs-eval's markdown) and OUT/report.json; extra arguments go to vs-eval
# (e.g. --classes FILE --name NAME).
# usage: merge.sh OUT N [vs-eval options...]
set -euo pipefail
out=${1:?usage: merge.sh OUT N [vs-eval options...]}
n=${2:?usage: merge.sh OUT N [vs-eval options...]}
shift 2
files=()
for ((i = 0; i < n; i++)); do
  f="$out/shard-$i/pred.jsonl"
  test -f "$f" || { echo "merge.sh: shard $i/$n has no $f" >&2; exit 1; }
  files+=("$f")
done
cat "${files[@]}" | vs-eval "$@" --json "$out/report.json" > "$out/report.md.part"
mv "$out/report.md.part" "$out/report.md"
echo "vstar merge: $n shards -> $out/report.md, $out/report.json" >&2
