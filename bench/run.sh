#!/usr/bin/env bash
# Runs every benchmark script in bench/ (each compares vstar with its peer in one run and prints ratios).
set -uo pipefail
cd "$(dirname "$0")"
rc=0
for b in ./*.sh; do
  [ "$(basename "$b")" = run.sh ] && continue
  echo "== $(basename "$b" .sh) ==" >&2
  bash "$b" || rc=1
done
exit $rc
