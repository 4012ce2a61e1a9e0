#!/usr/bin/env bash
# Decode + sample: vs-decode vs the ffmpeg CLI (frame extraction with select=) vs PyAV, writing the
# same frames (the Qwen/Video-STAR rule's indices, as vs-decode chose them: up to 16 per clip) as
# PNG from the same clips (every clip in ../shared/assets/videos), one decoder thread each, one run.
# vs-decode runs with an empty cache (--no-cache) so it really decodes; its time includes process
# start-up, like the CLI's (one ffmpeg process per clip). PyAV is timed in-process.
# Prints frames/s per implementation and the ratios (targets, design.md §7: >= 2x CLI, >= 1x PyAV).
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
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
mapfile -t clips < <(find "$videos" -type f | sort)
now() { date +%s.%N; }

# vs-decode (fresh cache, no reuse).
t0=$(now)
VSTAR_CACHE="$tmp/cache" "$build/bin/vs-decode" --no-cache --threads 1 --decode-threads "$threads" \
  --log-level error "${clips[@]}" > "$tmp/frames.jsonl" || true
t1=$(now)
vs_s=$(echo "$t1 - $t0" | bc -l)
# The frames each clip got (clips that fail the rule, e.g. < 2 frames, are left out of all three).
"$py" - "$tmp/frames.jsonl" "${clips[@]}" > "$tmp/jobs.json" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
jobs = [{"video": v, "indices": r["frames"]["indices"]} for r, v in zip(recs, sys.argv[2:]) if "frames" in r]
json.dump(jobs, sys.stdout)
PY
n=$("$py" -c 'import json,sys; print(sum(len(set(j["indices"])) for j in json.load(open(sys.argv[1]))))' "$tmp/jobs.json")
vs_fps=$(echo "$n / $vs_s" | bc -l)
printf '{"impl":"vs-decode","clips":%d,"frames":%d,"seconds":%.3f,"frames_per_s":%.1f}\n' "${#clips[@]}" "$n" "$vs_s" "$vs_fps"

# ffmpeg CLI: one process per clip, select= on the decode-order frame number, PNG out.
cli_run() {  # $1 = extra encoder options
  local k=0 t0 t1
  t0=$(now)
  while read -r video sel; do
    mkdir -p "$tmp/cli$k"
    ffmpeg -nostdin -v error -threads "$threads" -i "$video" -vf "select='$sel'" -fps_mode passthrough $1 \
      "$tmp/cli$k/%03d.png"
    k=$((k + 1))
  done < <("$py" -c '
import json, sys
for j in json.load(open(sys.argv[1])):
    print(j["video"], "+".join("eq(n\\,%d)" % i for i in sorted(set(j["indices"]))))' "$tmp/jobs.json")
  t1=$(now)
  echo "$t1 - $t0" | bc -l
}
cli_s=$(cli_run "")
cli_fps=$(echo "$n / $cli_s" | bc -l)
printf '{"impl":"ffmpeg CLI %s (png default)","frames":%d,"seconds":%.3f,"frames_per_s":%.1f}\n' \
  "$(ffmpeg -version | head -1 | cut -d' ' -f3)" "$n" "$cli_s" "$cli_fps"
cli1_s=$(cli_run "-compression_level 1")
cli1_fps=$(echo "$n / $cli1_s" | bc -l)
printf '{"impl":"ffmpeg CLI (png -compression_level 1)","frames":%d,"seconds":%.3f,"frames_per_s":%.1f}\n' \
  "$n" "$cli1_s" "$cli1_fps"

# PyAV: sequential decode in-process, PIL PNG at zlib level 1.
mkdir -p "$tmp/pyav"
pyav=$("$py" "$here/decode_pyav.py" "$tmp/jobs.json" "$tmp/pyav" "$threads")
pyav_s=$(echo "$pyav" | "$py" -c 'import json,sys; print(json.load(sys.stdin)["seconds"])')
pyav_fps=$(echo "$n / $pyav_s" | bc -l)
printf '{"impl":"PyAV %s","frames":%d,"seconds":%.3f,"frames_per_s":%.1f}\n' \
  "$("$py" -c 'import av; print(av.__version__)')" "$n" "$pyav_s" "$pyav_fps"

printf '{"ratio_vs_cli":%.2f,"ratio_vs_cli_level1":%.2f,"ratio_vs_pyav":%.2f,"target_cli":2.0,"target_pyav":1.0}\n' \
  "$(echo "$vs_fps / $cli_fps" | bc -l)" "$(echo "$vs_fps / $cli1_fps" | bc -l)" "$(echo "$vs_fps / $pyav_fps" | bc -l)"
