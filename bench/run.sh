#!/usr/bin/env bash
# Runs every benchmark script in bench/ (each measures vstar and its peer in the same run), then prints
# one table of all their rows (bench/rows.py: value, peer, ratio, target) and the rows as JSON.
# A script that fails is named at the end and makes the exit status 1; the others still run.
set -uo pipefail
cd "$(dirname "$0")"
py="${VSTAR_VENV:-$HOME/.local/share/vstar/venv}/bin/python"
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
rc=0
failed=()
for b in ./*.sh; do
  name="$(basename "$b" .sh)"
  [ "$name" = run ] && continue
  echo "== $name ==" >&2
  if ! bash "$b" | tee "$out/$name.out"; then
    rc=1
    failed+=("$name")
  fi
done
echo "== all rows ($(date -u +%FT%TZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?'), load$(uptime | sed 's/.*load average//')) =="
"$py" rows.py table "$out"/*.out
[ ${#failed[@]} -eq 0 ] || echo "failed: ${failed[*]}" >&2
exit $rc
