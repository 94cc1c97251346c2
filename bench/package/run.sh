#!/usr/bin/env bash
# bench/package/run.sh: packaging without transcoding, `streamverse ingest
# --no-transcode` against ffmpeg -c copy to HLS and to DASH, and cp.
#
# Makes a 1280x720 25 fps H.264/AAC source with a keyframe every 2 s
# (testsrc2, x264 ultrafast at 4 Mbit/s, AAC 128k sine: cheap to make; its
# content does not matter here, nothing is decoded or encoded), then times,
# one after the other on that file:
#
#   (a) streamverse ingest FILE --no-transcode: probe, one CMAF track per
#       stream plus its fragment index (cut at keyframes, 4 s segments; the
#       server makes HLS and DASH from them), poster and thumbnails, fsync;
#   (b) ffmpeg -c copy to fMP4 HLS: -f hls -hls_segment_type fmp4
#       -hls_time 4 -hls_playlist_type vod, one rendition per stream
#       (-var_stream_map, as streamverse has one track per stream);
#   (c) ffmpeg -c copy to DASH: -f dash -seg_duration 4 (one representation
#       per stream); (b) + (c) is "ffmpeg HLS+DASH", what it takes ffmpeg to
#       give both protocols (it cannot share segments between the two here);
#   (d) cp of the source: the physical floor of reading and writing it.
#
# streamverse fsyncs its track files before it reports the asset ready, so
# by default the times of (b), (c) and (d) include an fsync of the files they
# wrote (`sync FILE...` right after the command). The page cache is warm (the
# source was just written and is read once more before the runs) unless
# BENCH_DROP_CACHES=1, which drops it (sync; echo 3 >
# /proc/sys/vm/drop_caches; needs root) before each timed command.
#
# Before the times are printed, every output is checked: streamverse's
# tracks and ffmpeg's HLS and DASH presentations have the source's frames,
# audio packets and duration (ffprobe) and decode fully with `ffmpeg -v error`
# reporting nothing; the copy is compared with cmp. A failed check stops the
# script with a non-zero status.
#
# Environment (all optional):
#   BENCH_SECONDS      source duration in seconds (default 600)
#   BENCH_RUNS         measurements of each tool (default 1); with more than
#                      one, the median is printed too
#   BENCH_DROP_CACHES  1: drop the page cache before each timed command
#                      (root only); default 0, warm cache
#   BENCH_FSYNC        0: do not fsync the outputs of ffmpeg and cp (default 1)
#   BENCH_STREAMVERSE  binary to measure (default build/streamverse)
#
# STREAMVERSE_* variables are cleared: the binary runs with its defaults.
#
# Exit status: 0 when the figures were measured (this is a benchmark, not a
# test); non-zero when a tool is missing, a command failed, or an output
# failed its check.
#
# Everything the run creates lives in one mktemp -d directory, removed on
# exit (also on Ctrl-C). It needs about 5 x (BENCH_SECONDS x 0.52) MB of disk.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
bench_name=package
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"

seconds=${BENCH_SECONDS:-600}
runs=${BENCH_RUNS:-1}
drop_caches=${BENCH_DROP_CACHES:-0}
do_fsync=${BENCH_FSYNC:-1}
sv_bin=${BENCH_STREAMVERSE:-$repo/build/streamverse}
fps=25

# ---- arguments and tools -------------------------------------------------

bench_posint BENCH_SECONDS "$seconds"
bench_posint BENCH_RUNS "$runs"
[[ $drop_caches == 0 || $drop_caches == 1 ]] || bench_die "BENCH_DROP_CACHES must be 0 or 1"
[[ $do_fsync == 0 || $do_fsync == 1 ]] || bench_die "BENCH_FSYNC must be 0 or 1"
if [[ $drop_caches == 1 ]]; then
    [[ -w /proc/sys/vm/drop_caches ]] ||
        bench_die "BENCH_DROP_CACHES=1 needs a writable /proc/sys/vm/drop_caches (root, not in a read-only /proc)"
fi
[[ -x $sv_bin ]] || bench_die "$sv_bin not found: run make first, or set BENCH_STREAMVERSE"
bench_need ffmpeg ffprobe awk sort sync cp cmp find
bench_need_gnu_time
bench_clear_streamverse_env

# ---- temporary state and cleanup ---------------------------------------

started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(bench_loadavg)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sv-bench-package.XXXXXX")

# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cp "$sv_bin" "$tmp/streamverse"
sv_orig=$sv_bin
sv_bin=$tmp/streamverse

# ---- the source ----------------------------------------------------------------

frames=$((seconds * fps))
src=$tmp/source.mp4
bench_note "making the ${seconds} s 720p source (testsrc2, x264 ultrafast, keyframe every 2 s) ..."
ffmpeg -nostdin -v error -y \
    -f lavfi -i "testsrc2=size=1280x720:rate=$fps" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" \
    -t "$seconds" -map 0:v -map 1:a \
    -c:v libx264 -preset ultrafast -b:v 4000k -maxrate 4000k -bufsize 8000k \
    -g $((2 * fps)) -keyint_min $((2 * fps)) -sc_threshold 0 -pix_fmt yuv420p \
    -c:a aac -b:a 128k -ac 2 -movflags +faststart "$src" ||
    bench_die "ffmpeg could not make the source"
bench_probe "$src" v:0 || bench_die "ffprobe cannot read the source"
[[ $p_packets == "$frames" ]] || bench_die "the source has $p_packets frames, expected $frames"
bench_probe "$src" a:0 || bench_die "ffprobe cannot read the source's audio"
audio_packets=$p_packets
src_bytes=$(stat -c %s "$src")
src_mb=$(awk -v b="$src_bytes" 'BEGIN { printf "%.0f", b / 1e6 }')

# ---- commands ------------------------------------------------------------------

# Before each timed command: the cache state the run asked for.
prepare_cache() {
    if [[ $drop_caches == 1 ]]; then
        sync
        echo 3 >/proc/sys/vm/drop_caches
    fi
}
if [[ $drop_caches == 0 ]]; then
    cat "$src" >/dev/null
fi

# fsync_outputs DIR: sync -- every file under DIR (when BENCH_FSYNC=1); sets
# t_sync to the seconds it took (0 without).
fsync_outputs() {
    local -a files
    t_sync=0
    [[ $do_fsync == 1 ]] || return 0
    mapfile -t files < <(find "$1" -type f)
    local t0
    t0=$(bench_now)
    sync -- "${files[@]}"
    t_sync=$(bench_sub "$t0" "$(bench_now)")
}

hls_args=(-map 0:v:0 -map 0:a:0 -c copy -f hls -hls_segment_type fmp4 -hls_time 4
    -hls_playlist_type vod -hls_fmp4_init_filename init.mp4
    -master_pl_name master.m3u8 -var_stream_map "v:0,agroup:audio,name:video a:0,agroup:audio,name:audio")
dash_args=(-map 0:v:0 -map 0:a:0 -c copy -f dash -seg_duration 4)

declare -A wall cpu rss syncs
declare -A label=([sv]="streamverse" [hls]="ffmpeg HLS" [dash]="ffmpeg DASH" [cp]="cp")

# record TOOL RUN: stores t_wall (+ t_sync), t_cpu, t_rss_mb.
record() {
    wall[$1.$2]=$(awk -v a="$t_wall" -v b="${t_sync:-0}" 'BEGIN { printf "%.3f", a + b }')
    cpu[$1.$2]=$t_cpu
    rss[$1.$2]=$t_rss_mb
    syncs[$1.$2]=${t_sync:-0}
}

# ---- checks ----------------------------------------------------------------------

# check_video WHO INPUT: the video of INPUT (a file or a playlist) has the
# source's frames and duration and decodes cleanly.
check_video() {
    local who=$1 in=$2
    bench_probe "$in" v:0 || bench_die "$who: ffprobe cannot read the video of $in"
    if [[ $p_codec != h264 || $p_width != 1280 || $p_height != 720 || $p_packets != "$frames" ]]; then
        bench_die "$who: video: expected h264 1280x720, $frames frames; got $p_codec ${p_width}x$p_height, $p_packets frames"
    fi
    if [[ $p_duration != N/A ]] && ! bench_near "$p_duration" "$seconds" 0.05; then
        bench_die "$who: video: expected $seconds s, got $p_duration s"
    fi
}

# check_audio WHO INPUT: the audio of INPUT has the source's AAC packets.
check_audio() {
    local who=$1 in=$2
    bench_probe "$in" a:0 || bench_die "$who: ffprobe cannot read the audio of $in"
    if [[ $p_codec != aac || $p_packets != "$audio_packets" ]]; then
        bench_die "$who: audio: expected aac, $audio_packets packets; got $p_codec, $p_packets packets"
    fi
}

# check_decodes WHO INPUT: every stream of INPUT decodes with no error.
check_decodes() {
    bench_decodes "$2" || bench_die "$1: $2 does not decode cleanly (above)"
}

# ---- measurements ------------------------------------------------------------

for ((r = 1; r <= runs; r++)); do
    run=$tmp/run$r
    mkdir -p "$run/hls" "$run/dash" "$run/cp"

    bench_note "run $r/$runs: streamverse ingest --no-transcode ..."
    prepare_cache
    t_sync=0
    if ! bench_timed "$run/sv" "$sv_bin" ingest "$src" --data "$run/sv-data" --no-transcode \
        --log-level warn; then
        tail -n 20 "$run/sv.err" >&2
        bench_die "streamverse ingest --no-transcode failed (its last stderr lines above)"
    fi
    record sv "$r"
    id=$(tail -n 1 "$run/sv.out")
    [[ $id =~ ^[0-9]+$ ]] || bench_die "streamverse ingest printed '$id' as its last line, not an asset id"

    bench_note "run $r/$runs: ffmpeg HLS ..."
    prepare_cache
    if ! bench_timed "$run/hls" ffmpeg -nostdin -v error -y -i "$src" "${hls_args[@]}" \
        -hls_segment_filename "$run/hls/%v/%d.m4s" "$run/hls/%v/index.m3u8"; then
        cat "$run/hls.err" >&2
        bench_die "ffmpeg HLS failed (above)"
    fi
    fsync_outputs "$run/hls"
    record hls "$r"

    bench_note "run $r/$runs: ffmpeg DASH ..."
    prepare_cache
    if ! bench_timed "$run/dash" ffmpeg -nostdin -v error -y -i "$src" "${dash_args[@]}" \
        "$run/dash/manifest.mpd"; then
        cat "$run/dash.err" >&2
        bench_die "ffmpeg DASH failed (above)"
    fi
    fsync_outputs "$run/dash"
    record dash "$r"

    bench_note "run $r/$runs: cp ..."
    prepare_cache
    bench_timed "$run/cp" cp "$src" "$run/cp/source.mp4" || bench_die "cp failed: $(cat "$run/cp.err")"
    fsync_outputs "$run/cp"
    record cp "$r"

    bench_note "run $r/$runs: checking the outputs ..."
    vod=$run/sv-data/media/vod/$id
    video_tracks=("$vod"/720p/track.mp4)
    audio_tracks=("$vod"/audio-*/track.mp4)
    [[ -s ${video_tracks[0]} ]] || bench_die "streamverse: no 720p track under $vod: $(ls "$vod" 2>&1)"
    if ((${#audio_tracks[@]} != 1)) || [[ ! -s ${audio_tracks[0]} ]]; then
        bench_die "streamverse: expected one audio track under $vod, found: ${audio_tracks[*]}"
    fi
    check_video streamverse "${video_tracks[0]}"
    check_decodes streamverse "${video_tracks[0]}"
    check_audio streamverse "${audio_tracks[0]}"
    check_decodes streamverse "${audio_tracks[0]}"
    for p in "ffmpeg HLS:$run/hls/master.m3u8" "ffmpeg DASH:$run/dash/manifest.mpd"; do
        check_video "${p%%:*}" "${p#*:}"
        check_audio "${p%%:*}" "${p#*:}"
        check_decodes "${p%%:*}" "${p#*:}"
    done
    cmp -s "$src" "$run/cp/source.mp4" || bench_die "cp: the copy differs from the source"
    if ((r == 1)); then
        out_sv=$(du -sb "$vod" | awk '{ print $1 }')
        out_hls=$(du -sb "$run/hls" | awk '{ print $1 }')
        out_dash=$(du -sb "$run/dash" | awk '{ print $1 }')
        seg_sv=$((($(stat -c %s "$vod"/720p/track.idx) - 64) / 32))
        seg_hls=$(grep -c '\.m4s$' "$run/hls/video/index.m3u8" || true)
    fi
    rm -rf "$run"
done
load_after=$(bench_loadavg)

# ---- report ----------------------------------------------------------------

# The sum: both ffmpeg commands, one after the other.
for ((r = 1; r <= runs; r++)); do
    wall[both.$r]=$(awk -v a="${wall[hls.$r]}" -v b="${wall[dash.$r]}" 'BEGIN { printf "%.3f", a + b }')
    cpu[both.$r]=$(awk -v a="${cpu[hls.$r]}" -v b="${cpu[dash.$r]}" 'BEGIN { printf "%.2f", a + b }')
    rss[both.$r]=$(awk -v a="${rss[hls.$r]}" -v b="${rss[dash.$r]}" 'BEGIN { print (a > b ? a : b) }')
done
label[both]="ffmpeg HLS+DASH"
rows=(sv hls dash both cp)
if ((runs > 1)); then
    for t in "${rows[@]}"; do
        w=() c=() m=()
        for ((r = 1; r <= runs; r++)); do
            w+=("${wall[$t.$r]}") c+=("${cpu[$t.$r]}") m+=("${rss[$t.$r]}")
        done
        wall[$t.median]=$(bench_median "${w[@]}")
        cpu[$t.median]=$(bench_div "$(bench_median "${c[@]}")" 1 %.2f)
        rss[$t.median]=$(bench_div "$(bench_median "${m[@]}")" 1 %.0f)
    done
fi
run_keys=()
for ((r = 1; r <= runs; r++)); do run_keys+=("$r"); done
((runs > 1)) && run_keys+=(median)

echo
echo "StreamVerse packaging benchmark (bench/package)"
echo "date:     $started (start of the run)"
echo "machine:  $(bench_machine)"
echo "load:     before $load_before, after $load_after (1/5/15 min load average;"
echo "          other work on the machine skews the figures; quiet is below 0.5)"
echo "software: $("$sv_bin" --version 2>&1 | head -n 1) ($sv_orig, repo git $(bench_git_rev "$repo")),"
echo "          ffmpeg $(ffmpeg -version | awk 'NR == 1 { print $3 }')"
echo "source:   $seconds s 1280x720 25 fps H.264 (keyframe every 2 s) + AAC 128k, $src_mb MB"
if [[ $drop_caches == 1 ]]; then
    echo "cache:    page cache dropped before each timed command (BENCH_DROP_CACHES=1)"
else
    echo "cache:    warm: the source is in the page cache (BENCH_DROP_CACHES=1 drops it)"
fi
if [[ $do_fsync == 1 ]]; then
    echo "fsync:    streamverse fsyncs its tracks; the ffmpeg and cp times include \`sync FILE...\`"
    echo "          of their outputs (run 1: HLS ${syncs[hls.1]} s, DASH ${syncs[dash.1]} s, cp ${syncs[cp.1]} s)"
else
    echo "fsync:    streamverse fsyncs its tracks; ffmpeg and cp are not made to (BENCH_FSYNC=0)"
fi
echo "commands: streamverse ingest SOURCE --data DIR --no-transcode --log-level warn"
echo "          ffmpeg -nostdin -v error -y -i SOURCE $(bench_quote "${hls_args[@]}") \\"
echo "                 -hls_segment_filename 'DIR/%v/%d.m4s' 'DIR/%v/index.m3u8'"
echo "          ffmpeg -nostdin -v error -y -i SOURCE $(bench_quote "${dash_args[@]}") DIR/manifest.mpd"
echo "          cp SOURCE DIR/"
echo "outputs:  streamverse $out_sv B ($seg_sv video segments; also poster + thumbnails),"
echo "          ffmpeg HLS $out_hls B ($seg_hls video segments), ffmpeg DASH $out_dash B"
echo
printf '| %-6s | %-15s | %8s | %10s | %8s | %7s | %11s |\n' run tool "wall s" "x realtime" "MB/s" "CPU s" "peak RSS MB"
printf '|%s|%s|%s|%s|%s|%s|%s|\n' -------- ----------------- ---------- ------------ ---------- --------- -------------
for k in "${run_keys[@]}"; do
    for t in "${rows[@]}"; do
        printf '| %-6s | %-15s | %8s | %10s | %8s | %7s | %11s |\n' "$k" "${label[$t]}" "${wall[$t.$k]}" \
            "$(bench_div "$seconds" "${wall[$t.$k]}" "%.0fx")" \
            "$(awk -v b="$src_bytes" -v w="${wall[$t.$k]}" 'BEGIN { printf "%.0f", (w > 0 ? b / 1e6 / w : 0) }')" \
            "${cpu[$t.$k]}" "${rss[$t.$k]}"
    done
done
echo
printf '| %-6s | %-28s | %-22s | %-23s | %-14s |\n' run "StreamVerse/ffmpeg HLS+DASH" "StreamVerse/ffmpeg HLS" "StreamVerse/ffmpeg DASH" "StreamVerse/cp"
printf '|%s|%s|%s|%s|%s|\n' -------- ------------------------------ ------------------------ ------------------------- ----------------
for k in "${run_keys[@]}"; do
    printf '| %-6s | %-28s | %-22s | %-23s | %-14s |\n' "$k" \
        "$(bench_div "${wall[sv.$k]}" "${wall[both.$k]}")" "$(bench_div "${wall[sv.$k]}" "${wall[hls.$k]}")" \
        "$(bench_div "${wall[sv.$k]}" "${wall[dash.$k]}")" "$(bench_div "${wall[sv.$k]}" "${wall[cp.$k]}")"
done
echo
echo "ratios of wall times: < 1 means StreamVerse took less time. x realtime = source seconds /"
echo "wall seconds; MB/s = source MB (10^6 bytes) / wall seconds; CPU = user + system seconds."
echo "All outputs checked: source frames ($frames), audio packets ($audio_packets), duration, clean decode."
if awk -v l="${load_before%% *}" -v m="${load_after%% *}" 'BEGIN { exit !(l > 0.5 || m > 0.5) }'; then
    echo "warning: the machine was not quiet (load average above 0.5): compare the ratios, not the"
    echo "         absolute figures, and run again on a quiet machine for the record."
fi
exit 0
