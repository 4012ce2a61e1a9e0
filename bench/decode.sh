#!/usr/bin/env bash
# Decode + sample: vs-decode vs the ffmpeg CLI (frame extraction with select=) vs PyAV, writing the
# same frames (the Qwen/Video-STAR rule's indices, as vs-decode chose them: up to 16 per clip) from the
# same clips (every clip in ../shared/assets/videos, or the first VSTAR_BENCH_CLIPS), one run.
# vs-decode runs twice with an empty cache (--no-cache) so it really decodes: as users run it (its
# defaults: clips in parallel, one per core, lossless PPM frames), and like the peers (one clip at a
# time, one decoder thread, PNG at zlib level 1). Its time includes process start-up, like the CLI's
# (one ffmpeg process per clip, -threads VSTAR_BENCH_THREADS, default 1). PyAV is timed in-process.
# Prints frames/s per implementation from wall time and from CPU time (user+sys; steadier on a
# shared machine), vs-decode's own per-stage split, and rows (bench/rows.py) with the ratios
# (targets: >= 2x CLI, >= 1x PyAV).
# Needs vs-decode (VSTAR_BIN_DIR, default build/bin), ../shared, ffmpeg and the venv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
bin="${VSTAR_BIN_DIR:-${VSTAR_BUILD_DIR:-$root/build}/bin}"
videos="${VSTAR_SHARED:-$root/../shared}/assets/videos"
py="${VSTAR_VENV:-$HOME/.local/share/vstar/venv}/bin/python"
threads="${VSTAR_BENCH_THREADS:-1}"
[ -d "$videos" ] || { echo "SKIPPED: $videos is absent" >&2; exit 0; }
[ -x "$bin/vs-decode" ] || { echo "SKIPPED: $bin/vs-decode not built" >&2; exit 0; }
command -v ffmpeg >/dev/null || { echo "SKIPPED: ffmpeg CLI not installed" >&2; exit 0; }
[ -x /usr/bin/time ] || { echo "SKIPPED: /usr/bin/time (package time) not installed" >&2; exit 0; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
mapfile -t clips < <(find "$videos" -type f | sort | head -n "${VSTAR_BENCH_CLIPS:-1000000}")
export BENCH_TMP="$tmp" BENCH_THREADS="$threads" BENCH_PY="$py"
# Runs a command, leaves "wall cpu" seconds in $tmp/t.
measure() { /usr/bin/time -f "%e %U %S" -o "$tmp/t.raw" "$@"; awk '{print $1, $2 + $3}' "$tmp/t.raw" > "$tmp/t"; }
report() {  # name wall cpu
  printf '{"impl":"%s","frames":%d,"seconds":%.3f,"cpu_seconds":%.3f,"frames_per_s":%.1f,"frames_per_cpu_s":%.1f}\n' \
    "$1" "$n" "$2" "$3" "$(echo "$n / $2" | bc -l)" "$(echo "$n / $3" | bc -l)"
}

# vs-decode (fresh cache, no reuse): its defaults, then one clip at a time writing PNG.
measure env VSTAR_CACHE="$tmp/cache" "$bin/vs-decode" --no-cache --log-level info -o "$tmp/frames.jsonl" \
  "${clips[@]}" 2> "$tmp/vs.log" || true
read -r vs_s vs_c < "$tmp/t"
measure env VSTAR_CACHE="$tmp/cache" "$bin/vs-decode" --no-cache --threads 1 --decode-threads "$threads" \
  --format png --log-level info -o /dev/null "${clips[@]}" 2> "$tmp/vs1.log" || true
read -r vs1_s vs1_c < "$tmp/t"
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
version="vs-decode $("$bin/vs-decode" --version | awk '{print $NF}')"
report "$version (defaults: $(nproc) clips at once, ppm)" "$vs_s" "$vs_c"
report "$version (--threads 1 --decode-threads $threads --format png)" "$vs1_s" "$vs1_c"
# Where vs-decode's time went (thread-seconds summed over clips).
for f in vs vs1; do sed -n 's/.*stages (thread-seconds): \(.*\)/{"vs-decode stages":"\1"}/p' "$tmp/$f.log"; done

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

cli="ffmpeg CLI $(ffmpeg -version | head -1 | cut -d' ' -f3)"
pyav_name="PyAV $("$py" -c 'import av; print(av.__version__)')"
row() { "$py" "$here/rows.py" row decode "$@"; }
fps() { echo "$n / $1" | bc -l; }
row "defaults vs CLI png defaults, wall" frames/s "$(fps "$vs_s")" "$cli (png defaults)" "$(fps "$cli_s")" higher 2
row "defaults vs CLI png defaults, CPU time" frames/cpu-s "$(fps "$vs_c")" "$cli (png defaults)" "$(fps "$cli_c")" higher 2
# Like for like (no target): what is left once neither side has parallel clips or a cheaper format.
row "1 clip at a time, png level 1 vs CLI png level 1, wall" frames/s "$(fps "$vs1_s")" "$cli (png level 1)" \
  "$(fps "$cli1_s")" higher
row "1 clip at a time, png level 1 vs CLI png level 1, CPU time" frames/cpu-s "$(fps "$vs1_c")" "$cli (png level 1)" \
  "$(fps "$cli1_c")" higher
row "defaults vs PyAV, wall" frames/s "$(fps "$vs_s")" "$pyav_name" "$(fps "$pyav_s")" higher 1
row "defaults vs PyAV, CPU time" frames/cpu-s "$(fps "$vs_c")" "$pyav_name" "$(fps "$pyav_c")" higher 1
