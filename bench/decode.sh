#!/usr/bin/env bash
# Decode + sample: vs-decode vs the ffmpeg CLI (frame extraction with select=) vs PyAV, writing the
# same frames (the Qwen/Video-STAR rule's indices, as vs-decode chose them: up to 16 per clip) as
# PNG from the same clips (every clip in ../shared/assets/videos), one decoder thread each, one run.
# vs-decode runs with an empty cache (--no-cache) so it really decodes; its time includes process
# start-up, like the CLI's (one ffmpeg process per clip). PyAV is timed in-process.
# Prints frames/s per implementation from wall time and from CPU time (user+sys; steadier on a
# shared machine) and the ratios (targets: >= 2x CLI, >= 1x PyAV).
# Needs a build (VSTAR_BUILD_DIR, default build) with vs-decode, ../shared, ffmpeg and the venv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="${VSTAR_BUILD_DIR:-$root/build}"
videos="${VSTAR_SHARED:-$root/../shared}/assets/videos"
py="${VSTAR_VENV:-$HOME/.local/share/vstar/venv}/bin/python"
threads="${VSTAR_BENCH_THREADS:-1}"
[ -d "$videos" ] || { echo "SKIPPED: $videos is absent" >&2; exit 0; }
[ -x "$build/bin/vs-decode" ] || { echo "SKIPPED: $build/bin/vs-decode not built" >&2; exit 0; }
command -v ffmpeg >/dev/null || { echo "SKIPPED: ffmpeg CLI not installed" >&2; exit 0; }
[ -x /usr/bin/time ] || { echo "SKIPPED: /usr/bin/time (package time) not installed" >&2; exit 0; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
mapfile -t clips < <(find "$videos" -type f | sort)
export BENCH_TMP="$tmp" BENCH_THREADS="$threads" BENCH_PY="$py"
# Runs a command, leaves "wall cpu" seconds in $tmp/t.
measure() { /usr/bin/time -f "%e %U %S" -o "$tmp/t.raw" "$@"; awk '{print $1, $2 + $3}' "$tmp/t.raw" > "$tmp/t"; }
report() {  # name wall cpu
  printf '{"impl":"%s","frames":%d,"seconds":%.3f,"cpu_seconds":%.3f,"frames_per_s":%.1f,"frames_per_cpu_s":%.1f}\n' \
    "$1" "$n" "$2" "$3" "$(echo "$n / $2" | bc -l)" "$(echo "$n / $3" | bc -l)"
}

# vs-decode (fresh cache, no reuse).
measure env VSTAR_CACHE="$tmp/cache" "$build/bin/vs-decode" --no-cache --threads 1 --decode-threads "$threads" \
  --log-level error -o "$tmp/frames.jsonl" "${clips[@]}" || true
read -r vs_s vs_c < "$tmp/t"
# The frames each clip got (clips that fail the rule, e.g. < 2 frames, are left out of all three).
"$py" - "$tmp/frames.jsonl" "${clips[@]}" > "$tmp/jobs.json" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
jobs = [{"video": v, "indices": r["frames"]["indices"]} for r, v in zip(recs, sys.argv[2:]) if "frames" in r]
json.dump(jobs, sys.stdout)
PY
n=$("$py" -c 'import json,sys; print(sum(len(set(j["indices"])) for j in json.load(open(sys.argv[1]))))' "$tmp/jobs.json")
"$py" -c '
import json, sys
for j in json.load(open(sys.argv[1])):
    print(j["video"], "+".join("eq(n\\,%d)" % i for i in sorted(set(j["indices"]))))' "$tmp/jobs.json" > "$tmp/select.txt"
echo "{\"clips\":${#clips[@]},\"sampled_frames\":$n,\"decoder_threads\":$threads}"
report "vs-decode $("$build/bin/vs-decode" --version | awk '{print $NF}')" "$vs_s" "$vs_c"

# ffmpeg CLI: one process per clip, select= on the decode-order frame number, PNG out.
cat > "$tmp/cli.sh" <<'SH'
k=0
while read -r video sel; do
  mkdir -p "$BENCH_TMP/cli$k"
  ffmpeg -nostdin -v error -threads "$BENCH_THREADS" -i "$video" -vf "select='$sel'" -fps_mode passthrough $1 \
    "$BENCH_TMP/cli$k/%03d.png"
  k=$((k + 1))
done < "$BENCH_TMP/select.txt"
SH
measure bash "$tmp/cli.sh" ""
read -r cli_s cli_c < "$tmp/t"
report "ffmpeg CLI $(ffmpeg -version | head -1 | cut -d' ' -f3) (png defaults)" "$cli_s" "$cli_c"
measure bash "$tmp/cli.sh" "-compression_level 1 -pred up"
read -r cli1_s cli1_c < "$tmp/t"
report "ffmpeg CLI (png -compression_level 1 -pred up, as vs-decode)" "$cli1_s" "$cli1_c"

# PyAV: sequential decode in-process, PIL PNG at zlib level 1.
mkdir -p "$tmp/pyav"
pyav=$("$py" "$here/decode_pyav.py" "$tmp/jobs.json" "$tmp/pyav" "$threads")
read -r pyav_s pyav_c < <(echo "$pyav" | "$py" -c 'import json,sys; d=json.load(sys.stdin); print(d["seconds"], d["cpu_seconds"])')
report "PyAV $("$py" -c 'import av; print(av.__version__)') (in-process)" "$pyav_s" "$pyav_c"

ratio() { echo "$2 / $1" | bc -l; }  # time ratio peer/vs = throughput ratio vs/peer
printf '{"ratio_vs_cli":%.2f,"ratio_vs_cli_cpu":%.2f,"ratio_vs_cli_level1":%.2f,"ratio_vs_cli_level1_cpu":%.2f,"ratio_vs_pyav":%.2f,"ratio_vs_pyav_cpu":%.2f,"target_cli":2.0,"target_pyav":1.0}\n' \
  "$(ratio "$vs_s" "$cli_s")" "$(ratio "$vs_c" "$cli_c")" "$(ratio "$vs_s" "$cli1_s")" "$(ratio "$vs_c" "$cli1_c")" \
  "$(ratio "$vs_s" "$pyav_s")" "$(ratio "$vs_c" "$pyav_c")"
