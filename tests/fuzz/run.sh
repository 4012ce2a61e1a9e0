#!/usr/bin/env bash
# Runs every fuzz target of a build-fuzz tree for a fixed time, one process on one core each, and
# prints one line per target: executions, corpus size, crashes (sanitizer reports and aborts),
# timeouts and out-of-memory inputs. Exit status 1 when any target found anything.
#   tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
# With FUZZ_RUNS=N in the environment a target also stops after N executions (libFuzzer's -runs).
# Inputs found interesting are kept in BUILD_DIR/corpus/<target> (the committed seeds in
# tests/fuzz/corpus/<target> are only read); what fails is saved as
# BUILD_DIR/artifacts/<target>/{crash,timeout,oom}-<sha1> (reproduce: BUILD_DIR/fuzz-<target> FILE).
set -uo pipefail
build=${1:?usage: run.sh BUILD_DIR SECONDS [TARGET...]}
seconds=${2:?usage: run.sh BUILD_DIR SECONDS [TARGET...]}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -gt 0 ]; then targets=("$@"); else read -r -a targets < "$build/targets.txt"; fi

# Per-input limits: 2 s (a regex that backtracks for ever is a finding), 2 GB of memory, inputs up to
# 64 KiB (long lines and deep nesting fit; the parsers' cost per byte is what matters).
flags=(-timeout=2 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1)
[ -n "${FUZZ_RUNS:-}" ] && flags+=(-runs="$FUZZ_RUNS")
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
printf '%-16s %12s %8s %8s %8s %8s\n' target executions corpus crashes timeouts ooms
for t in "${targets[@]}"; do
  exe=$build/fuzz-$t
  [ -x "$exe" ] || { echo "$t: no $exe (build $build first)" >&2; status=1; continue; }
  corpus=$build/corpus/$t artifacts=$build/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  # The tokenizer.json loader also starts from the committed tiny tokenizer (a test fixture).
  [ "$t" = tokenizer_json ] && cp "$here/../fixtures/model/tiny/tokenizer.json" "$corpus/fixture-tiny.json"
  log=$build/logs/$t.log
  mkdir -p "$build/logs"
  touch "$build/logs/$t.start"  # only what this run finds is counted
  "$exe" "${flags[@]}" -max_total_time="$seconds" -artifact_prefix="$artifacts/" \
    "$corpus" "$here/corpus/$t" > "$log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  found() { find "$artifacts" -name "$1-*" -newer "$build/logs/$t.start" | wc -l; }
  crashes=$(found crash) timeouts=$(found timeout) ooms=$(found oom)
  printf '%-16s %12s %8s %8s %8s %8s\n' "$t" "${runs:-?}" "$(ls "$corpus" | wc -l)" "$crashes" \
    "$timeouts" "$ooms"
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ] || [ "$timeouts" -ne 0 ] || [ "$ooms" -ne 0 ]; then
    status=1
    echo "  $t: libFuzzer exit $rc; see $log" >&2
    grep -m3 -E 'ERROR: (AddressSanitizer|libFuzzer)|runtime error:|==[0-9]+==ERROR' "$log" | sed 's/^/  /' >&2
  fi
done
exit $status
