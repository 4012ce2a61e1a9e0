#!/usr/bin/env bash
# Runs ctest over a build tree, then says how many tests were skipped and why. A test that cannot run
# exits 77 (tests/support.hpp), which ctest reports as skipped without showing its output; the reason
# it printed ("SKIPPED: ...") is read back from ctest's JUnit report.
# Usage: tools/ctest-summary.sh BUILD_DIR [ctest arguments...]; exits with ctest's status.
set -uo pipefail
build=${1:?usage: ctest-summary.sh BUILD_DIR [ctest args...]}
shift
junit=$(mktemp "${TMPDIR:-/tmp}/vstar-ctest.XXXXXX.xml")
trap 'rm -f "$junit"' EXIT
ctest --test-dir "$build" --output-junit "$junit" "$@"
status=$?
# One line per test ctest did not run: "name<TAB>reason". XML entities are undone after splitting.
skipped=$(awk '
  /<testcase / {
    name = $0; sub(/.*<testcase name="/, "", name); sub(/".*/, "", name)
    notrun = ($0 ~ /status="notrun"/); reason = ""
  }
  notrun && /SKIPPED: / && reason == "" { reason = $0; sub(/.*SKIPPED: /, "", reason) }
  notrun && /<\/testcase>/ { print name "\t" (reason == "" ? "(no reason printed)" : reason); notrun = 0 }
' "$junit" | sed -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&quot;/"/g' -e "s/&apos;/'/g" -e 's/&amp;/\&/g')
if [ -z "$skipped" ]; then
  echo "ctest-summary: 0 tests skipped"
else
  echo "ctest-summary: $(printf '%s\n' "$skipped" | wc -l) tests skipped (reported as skipped, not passed):"
  printf '%s\n' "$skipped" | awk -F '\t' '{ printf "  %s\n      %s\n", $1, $2 }'
fi
exit $status
