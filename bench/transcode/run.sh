#!/usr/bin/env bash
# bench/transcode/run.sh: ABR ladder transcoding, `streamverse ingest` against
# the ffmpeg CLI doing the same work.
#
# Makes a 1920x1080 25 fps source with motion and detail (ffmpeg's mandelbrot
# generator: a continuous zoom into the Mandelbrot set's boundary, so every
# frame has fine detail that moves, and x264's motion search and rate control
# work as on real footage; it needs about 10 Mbit/s at x264 veryfast crf 23,
# in the range of detailed camera footage. testsrc2 is mostly static and
# cheap to encode; testsrc2 with temporal noise (noise=alls=20:allf=t) is
# incompressible, ~100 Mbit/s at crf 23, so x264 spends its time coding
# noise, which is not realistic either), plus a 440 Hz sine, and encodes it
# once to an H.264/AAC mezzanine at high quality (x264 crf 16, AAC 192k).
# That file is the input of both:
#
#   (a) streamverse ingest FILE --video-preset PRESET: probe, one decode, the
#       default ladder (1080p 5000k, 720p 3000k, 480p 1400k, 360p 800k,
#       240p 400k; libswscale bicubic to yuv420p, libx264 per rung, one
#       thread each), AAC-LC 128k, CMAF track files, poster and thumbnails;
#   (b) ffmpeg: one decode, split=5, scale=W:H:flags=bicubic per rung, libx264
#       with the same preset, profile high, level per rung, -b:v/-maxrate/
#       -bufsize = bitrate/1.5x/2x, -g = -keyint_min = 4 s of frames,
#       -force_key_frames at every 4 s, open-gop=0, -sc_threshold and
#       -threads left at their defaults (as in streamverse); AAC 128k stereo
#       48 kHz encoded once, as streamverse does; six fragmented MP4 outputs
#       (five video, one audio). Its time includes an fsync of its outputs
#       (`sync FILE...`, timed separately and added), because streamverse
#       fsyncs its track files before it reports the asset ready.
#
# Both run one after the other, on the same input, BENCH_RUNS times. Before
# the times are printed, every output of both is checked: the expected codec,
# size, frame count and duration (ffprobe), and a full decode with
# `ffmpeg -v error` that reports nothing. A failed check stops the script with
# a non-zero status: a fast wrong transcode is not a result.
#
# Prints, per run and tool, wall seconds, speed (x realtime), CPU seconds
# (user + system) and peak RSS (GNU time -v), the ratios StreamVerse/ffmpeg
# (< 1: StreamVerse is faster or smaller), and the size and bitrate of each
# rendition of each tool (the same rate control gives the same bitrates).
#
# Environment (all optional):
#   BENCH_SECONDS      source duration in seconds (default 60)
#   BENCH_RUNS         measurements of each tool (default 1); with more than
#                      one, the median is printed too
#   BENCH_PRESET       x264 preset of both (default veryfast, streamverse's
#                      video_preset default)
#   BENCH_STREAMVERSE  binary to measure (default build/streamverse)
#
# STREAMVERSE_* variables are cleared: the binary runs with its defaults and
# the flags above.
#
# Exit status: 0 when the figures were measured (this is a benchmark, not a
# test); non-zero when a tool is missing, a transcode failed, or an output
# failed its check.
#
# Everything the run creates lives in one mktemp -d directory, removed on
# exit (also on Ctrl-C). It needs about (BENCH_SECONDS x 5) MB of disk.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
bench_name=transcode
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"

seconds=${BENCH_SECONDS:-60}
runs=${BENCH_RUNS:-1}
preset=${BENCH_PRESET:-veryfast}
sv_bin=${BENCH_STREAMVERSE:-$repo/build/streamverse}

# The default ladder for a 1920x1080 25 fps source, as streamverse computes
# it: name, width, height, kbit/s, H.264 level.
fps=25
seg=4
names=(1080p 720p 480p 360p 240p)
widths=(1920 1280 854 640 426)
heights=(1080 720 480 360 240)
kbps=(5000 3000 1400 800 400)
levels=(4.0 3.1 3.0 3.0 3.0)

# ---- arguments and tools -------------------------------------------------

bench_posint BENCH_SECONDS "$seconds"
bench_posint BENCH_RUNS "$runs"
[[ $preset =~ ^(ultrafast|superfast|veryfast|faster|fast|medium|slow|slower|veryslow|placebo)$ ]] ||
    bench_die "BENCH_PRESET must be an x264 preset, got '$preset'"
[[ -x $sv_bin ]] || bench_die "$sv_bin not found: run make first, or set BENCH_STREAMVERSE"
bench_need ffmpeg ffprobe awk sort sync ldd
bench_need_gnu_time
[[ $(ffmpeg -hide_banner -encoders 2>/dev/null) == *" libx264 "* ]] || bench_die "this ffmpeg has no libx264"
bench_clear_streamverse_env

# ---- temporary state and cleanup ---------------------------------------

started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(bench_loadavg)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sv-bench-transcode.XXXXXX")

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

# One run measures one binary, whatever happens to build/ meanwhile.
cp "$sv_bin" "$tmp/streamverse"
sv_orig=$sv_bin
sv_bin=$tmp/streamverse

# ---- the source ----------------------------------------------------------------

frames=$((seconds * fps))
src=$tmp/source.mp4
bench_note "making the ${seconds} s 1080p source (mandelbrot, x264 crf 16) ..."
ffmpeg -nostdin -v error -y \
    -f lavfi -i "mandelbrot=size=1920x1080:rate=$fps" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" \
    -t "$seconds" -map 0:v -map 1:a \
    -c:v libx264 -preset veryfast -crf 16 -pix_fmt yuv420p -g $((2 * fps)) \
    -c:a aac -b:a 192k -ac 2 -movflags +faststart "$src" ||
    bench_die "ffmpeg could not make the source"
bench_probe "$src" v:0 || bench_die "ffprobe cannot read the source"
[[ $p_packets == "$frames" ]] || bench_die "the source has $p_packets frames, expected $frames"
src_mbps=$(awk -v b="$(stat -c %s "$src")" -v s="$seconds" 'BEGIN { printf "%.1f", b * 8 / s / 1e6 }')

# ---- the ffmpeg command --------------------------------------------------------

frag=(-f mp4 -movflags +frag_keyframe+empty_moov+default_base_moof)
filter="[0:v]split=${#names[@]}"
for i in "${!names[@]}"; do filter+="[s$i]"; done
for i in "${!names[@]}"; do
    filter+=";[s$i]scale=${widths[i]}:${heights[i]}:flags=bicubic,format=yuv420p[o$i]"
done
# ffmpeg_args OUTDIR: the arguments after the input.
ffmpeg_args() {
    local out=$1 i k
    printf '%s\n' -filter_complex "$filter"
    for i in "${!names[@]}"; do
        k=${kbps[i]}
        printf '%s\n' -map "[o$i]" -an -c:v libx264 -preset "$preset" -profile:v high \
            -level:v "${levels[i]}" -b:v "${k}k" -maxrate "$((k * 3 / 2))k" -bufsize "$((k * 2))k" \
            -g $((seg * fps)) -keyint_min $((seg * fps)) \
            -force_key_frames "expr:gte(t,n_forced*$seg)" -x264-params open-gop=0 \
            "${frag[@]}" "$out/${names[i]}.mp4"
    done
    printf '%s\n' -map 0:a:0 -vn -c:a aac -b:a 128k -ac 2 -ar 48000 "${frag[@]}" "$out/audio.mp4"
}

# ---- checks ----------------------------------------------------------------------

# check_video WHO FILE INDEX: the rung's codec, size, frames, duration, decode.
check_video() {
    local who=$1 f=$2 i=$3 want
    want="h264 ${widths[i]}x${heights[i]}, $frames frames, $seconds s"
    [[ -s $f ]] || bench_die "$who: ${names[i]}: $f is missing or empty"
    bench_probe "$f" v:0 || bench_die "$who: ${names[i]}: ffprobe cannot read $f"
    if [[ $p_codec != h264 || $p_width != "${widths[i]}" || $p_height != "${heights[i]}" ||
        $p_packets != "$frames" ]] || ! bench_near "$p_duration" "$seconds" 0.05; then
        bench_die "$who: ${names[i]}: expected $want; got $p_codec ${p_width}x$p_height, $p_packets frames, $p_duration s"
    fi
    bench_decodes "$f" || bench_die "$who: ${names[i]}: $f does not decode cleanly (above)"
}

# check_audio WHO FILE: AAC stereo 48 kHz, the source's duration within two
# AAC frames (the encoder's 1024 priming samples and the padding of the last
# frame: neither tool trims them with an edit list), decodes.
check_audio() {
    local who=$1 f=$2
    [[ -s $f ]] || bench_die "$who: audio: $f is missing or empty"
    bench_probe "$f" a:0 || bench_die "$who: audio: ffprobe cannot read $f"
    if [[ $p_codec != aac || $p_rate != 48000 || $p_channels != 2 ]] ||
        ! bench_near "$p_duration" "$seconds" 0.043; then
        bench_die "$who: audio: expected aac 48000 Hz 2 ch, $seconds s; got $p_codec $p_rate Hz $p_channels ch, $p_duration s"
    fi
    bench_decodes "$f" || bench_die "$who: audio: $f does not decode cleanly (above)"
}

# ---- measurements ------------------------------------------------------------

declare -a sv_wall sv_cpu sv_rss ff_wall ff_cpu ff_rss ff_sync
declare -A sv_bytes ff_bytes
mapfile -t ff_cmd_proto < <(ffmpeg_args OUT)

for ((r = 1; r <= runs; r++)); do
    run=$tmp/run$r
    mkdir -p "$run/ff"

    bench_note "run $r/$runs: streamverse ingest ..."
    if ! bench_timed "$run/sv" "$sv_bin" ingest "$src" --data "$run/sv-data" \
        --video-preset "$preset" --log-level warn; then
        tail -n 20 "$run/sv.err" >&2
        bench_die "streamverse ingest failed (its last stderr lines above)"
    fi
    sv_wall[r]=$t_wall sv_cpu[r]=$t_cpu sv_rss[r]=$t_rss_mb
    id=$(tail -n 1 "$run/sv.out")
    [[ $id =~ ^[0-9]+$ ]] || bench_die "streamverse ingest printed '$id' as its last line, not an asset id"

    bench_note "run $r/$runs: ffmpeg ..."
    mapfile -t ff_cmd < <(ffmpeg_args "$run/ff")
    if ! bench_timed "$run/ff" ffmpeg -nostdin -v error -y -i "$src" "${ff_cmd[@]}"; then
        cat "$run/ff.err" >&2
        bench_die "ffmpeg failed (above)"
    fi
    ff_wall[r]=$t_wall ff_cpu[r]=$t_cpu ff_rss[r]=$t_rss_mb
    bench_wall "$run/ff-sync" sync -- "$run"/ff/*.mp4 || bench_die "sync of ffmpeg's outputs failed"
    ff_sync[r]=$t_wall
    ff_wall[r]=$(awk -v a="${ff_wall[r]}" -v b="$t_wall" 'BEGIN { printf "%.3f", a + b }')

    bench_note "run $r/$runs: checking the outputs ..."
    vod=$run/sv-data/media/vod/$id
    for i in "${!names[@]}"; do
        check_video streamverse "$vod/${names[i]}/track.mp4" "$i"
        check_video ffmpeg "$run/ff/${names[i]}.mp4" "$i"
        if ((r == 1)); then
            sv_bytes[${names[i]}]=$(stat -c %s "$vod/${names[i]}/track.mp4")
            ff_bytes[${names[i]}]=$(stat -c %s "$run/ff/${names[i]}.mp4")
        fi
    done
    audio_dirs=("$vod"/audio-*)
    if ((${#audio_dirs[@]} != 1)) || [[ ! -d ${audio_dirs[0]} ]]; then
        bench_die "streamverse: expected one audio rendition under $vod, found: ${audio_dirs[*]}"
    fi
    check_audio streamverse "${audio_dirs[0]}/track.mp4"
    check_audio ffmpeg "$run/ff/audio.mp4"
    if ((r == 1)); then
        sv_bytes[audio]=$(stat -c %s "${audio_dirs[0]}/track.mp4")
        ff_bytes[audio]=$(stat -c %s "$run/ff/audio.mp4")
    fi
    rm -rf "$run"
done
load_after=$(bench_loadavg)

# ---- report ----------------------------------------------------------------

speed() { bench_div "$seconds" "$1" "%.2fx"; }

echo
echo "StreamVerse transcoding benchmark (bench/transcode)"
echo "date:     $started (start of the run)"
echo "machine:  $(bench_machine)"
echo "load:     before $load_before, after $load_after (1/5/15 min load average;"
echo "          other work on the machine slows both tools; quiet is below 0.5)"
echo "software: $("$sv_bin" --version 2>&1 | head -n 1) ($sv_orig, repo git $(bench_git_rev "$repo")),"
echo "          ffmpeg $(ffmpeg -version | awk 'NR == 1 { print $3 }')"
echo "          streamverse loads: $(bench_libs "$sv_bin")"
echo "          ffmpeg loads:      $(bench_libs "$(command -v ffmpeg)")"
echo "source:   $seconds s 1920x1080 25 fps mandelbrot zoom, H.264 crf 16 ($src_mbps Mbit/s with audio),"
echo "          AAC 192k stereo 48 kHz sine"
echo "work:     one decode, 5 rungs 1080p 5000k / 720p 3000k / 480p 1400k / 360p 800k /"
echo "          240p 400k, libx264 $preset, profile high, IDR every ${seg} s; AAC 128k once"
echo "streamverse: streamverse ingest SOURCE --data DIR --video-preset $preset --log-level warn"
echo "          (also probes, writes CMAF track files + index, poster and thumbnails, and fsyncs)"
echo "ffmpeg:   ffmpeg -nostdin -v error -y -i SOURCE \\"
# One output per line, shell-quoted, so the command can be pasted.
for a in "${ff_cmd_proto[@]}"; do
    [[ $a == -map ]] && printf ' \\\n'
    printf ' %s' "$(bench_quote "$a")"
done | sed 's/^ /           /'
echo
echo "          then sync of its six outputs (included in its wall time: ${ff_sync[*]} s)"
echo
printf '| %-6s | %-11s | %8s | %18s | %7s | %11s |\n' run tool "wall s" "speed (x realtime)" "CPU s" "peak RSS MB"
printf '|%s|%s|%s|%s|%s|%s|\n' -------- ------------- ---------- -------------------- --------- -------------
row() {
    printf '| %-6s | %-11s | %8s | %18s | %7s | %11s |\n' "$@"
}
for ((r = 1; r <= runs; r++)); do
    row "$r" streamverse "${sv_wall[r]}" "$(speed "${sv_wall[r]}")" "${sv_cpu[r]}" "${sv_rss[r]}"
    row "$r" ffmpeg "${ff_wall[r]}" "$(speed "${ff_wall[r]}")" "${ff_cpu[r]}" "${ff_rss[r]}"
done
if ((runs > 1)); then
    m_sv_wall=$(bench_median "${sv_wall[@]}") m_ff_wall=$(bench_median "${ff_wall[@]}")
    m_sv_cpu=$(bench_median "${sv_cpu[@]}") m_ff_cpu=$(bench_median "${ff_cpu[@]}")
    m_sv_cpu=$(bench_div "$m_sv_cpu" 1 %.2f) m_ff_cpu=$(bench_div "$m_ff_cpu" 1 %.2f)
    m_sv_rss=$(bench_median "${sv_rss[@]}") m_ff_rss=$(bench_median "${ff_rss[@]}")
    row median streamverse "$m_sv_wall" "$(speed "$m_sv_wall")" "$m_sv_cpu" "${m_sv_rss%.*}"
    row median ffmpeg "$m_ff_wall" "$(speed "$m_ff_wall")" "$m_ff_cpu" "${m_ff_rss%.*}"
fi
echo
printf '| %-6s | %-25s | %-24s | %-24s |\n' run "wall StreamVerse/ffmpeg" "CPU StreamVerse/ffmpeg" "RSS StreamVerse/ffmpeg"
printf '|%s|%s|%s|%s|\n' -------- --------------------------- -------------------------- --------------------------
ratio_row() {
    printf '| %-6s | %-25s | %-24s | %-24s |\n' "$1" "$(bench_div "$2" "$3")" \
        "$(bench_div "$4" "$5")" "$(bench_div "$6" "$7")"
}
for ((r = 1; r <= runs; r++)); do
    ratio_row "$r" "${sv_wall[r]}" "${ff_wall[r]}" "${sv_cpu[r]}" "${ff_cpu[r]}" "${sv_rss[r]}" "${ff_rss[r]}"
done
if ((runs > 1)); then
    ratio_row median "$m_sv_wall" "$m_ff_wall" "$m_sv_cpu" "$m_ff_cpu" "$m_sv_rss" "$m_ff_rss"
fi
echo
echo "< 1: StreamVerse took less time / CPU / memory than ffmpeg. speed = source seconds / wall"
echo "seconds. CPU = user + system seconds of all threads. peak RSS = GNU time's maximum"
echo "resident set size, MB = 10^6 bytes."
echo
echo "Outputs of run 1 (all checked: codec, size, $frames frames, duration, clean decode):"
printf '| %-9s | %-9s | %15s | %11s | %15s | %11s |\n' rendition target "streamverse B" "kbit/s" "ffmpeg B" "kbit/s"
printf '|%s|%s|%s|%s|%s|%s|\n' ----------- ----------- ----------------- ------------- ----------------- -------------
kbit() { awk -v b="$1" -v s="$seconds" 'BEGIN { printf "%.0f", b * 8 / s / 1000 }'; }
for i in "${!names[@]}"; do
    n=${names[i]}
    printf '| %-9s | %-9s | %15s | %11s | %15s | %11s |\n' "$n" "${kbps[i]}k" "${sv_bytes[$n]}" \
        "$(kbit "${sv_bytes[$n]}")" "${ff_bytes[$n]}" "$(kbit "${ff_bytes[$n]}")"
done
printf '| %-9s | %-9s | %15s | %11s | %15s | %11s |\n' audio 128k "${sv_bytes[audio]}" \
    "$(kbit "${sv_bytes[audio]}")" "${ff_bytes[audio]}" "$(kbit "${ff_bytes[audio]}")"
echo
echo "kbit/s = file bytes x 8 / $seconds s, container overhead included."
if awk -v l="${load_before%% *}" -v m="${load_after%% *}" 'BEGIN { exit !(l > 0.5 || m > 0.5) }'; then
    echo "warning: the machine was not quiet (load average above 0.5): compare the ratio, not the"
    echo "         absolute figures, and run again on a quiet machine for the record."
fi
exit 0
