#!/usr/bin/env bash
# bench/ttfp/run.sh: time to first playable of an upload, through the API of
# a running `streamverse serve`.
#
# Makes a 1920x1080 25 fps H.264/AAC file (default 5 minutes): the same kind
# of content as bench/transcode (ffmpeg's mandelbrot zoom: detail and motion,
# a realistic load for x264), rendered once for 20 s and repeated with the
# concat demuxer (rendering mandelbrot at 1080p takes longer than encoding
# it; the repetition is 500 frames apart, far beyond what x264 looks at), at
# high quality (x264 crf 16, a keyframe every second) with a sine in AAC.
#
# Starts `streamverse serve --job-workers 1 --job-poll 100ms` on loopback,
# then:
#   1. POSTs the file (curl --data-binary @FILE to
#      /api/v1/assets?filename=...) and records when the response arrives:
#      "upload complete", the origin of the figures;
#   2. polls /vod/ID/master.m3u8 every BENCH_POLL seconds until it answers
#      200 and the first media playlist it names lists a segment: "first
#      playable"; it then fetches that rendition's init segment and first
#      segment (and the audio's), to decode them at the end;
#   3. polls GET /api/v1/assets/ID every BENCH_READY_POLL seconds until its
#      state is "ready": "ready".
# and checks what it got: the first segments decode with `ffmpeg -v error`,
# and once ready the first media playlist ends (#EXT-X-ENDLIST) with the
# expected number of segments. A failed asset, a dead server, a timeout or a
# failed check stops the script with a non-zero status.
#
# Prints the seconds from upload complete to first playable and to ready,
# against the target for first playable (default < 10 s).
#
# Environment (all optional):
#   BENCH_SECONDS       source duration in seconds (default 300)
#   BENCH_TARGET        target for first playable, seconds (default 10)
#   BENCH_POLL          master playlist polling interval, s (default 0.05)
#   BENCH_READY_POLL    asset state polling interval, s (default 0.5: polling
#                       takes CPU from the transcode; the ready figure is
#                       this coarse)
#   BENCH_TIMEOUT       seconds to wait for first playable (default 120)
#   BENCH_READY_TIMEOUT seconds to wait for ready (default 30 x BENCH_SECONDS)
#   BENCH_WORKERS       streamverse event-loop threads (default 2)
#   BENCH_STREAMVERSE   binary to measure (default build/streamverse)
#
# STREAMVERSE_* variables are cleared: the binary runs with its defaults and
# the flags above.
#
# Exit status: 0 when the figures were measured, whether or not the target
# was met (this is a benchmark, not a test); non-zero otherwise.
#
# Only loopback is used. Everything the run creates lives in one mktemp -d
# directory, removed on exit together with the server it started. It needs
# about (BENCH_SECONDS x 4) MB of disk.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
bench_name=ttfp
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"

seconds=${BENCH_SECONDS:-300}
target=${BENCH_TARGET:-10}
poll=${BENCH_POLL:-0.05}
ready_poll=${BENCH_READY_POLL:-0.5}
play_timeout=${BENCH_TIMEOUT:-120}
ready_timeout=${BENCH_READY_TIMEOUT:-$((30 * seconds))}
workers=${BENCH_WORKERS:-2}
sv_bin=${BENCH_STREAMVERSE:-$repo/build/streamverse}
fps=25
seg=4

# ---- arguments and tools -------------------------------------------------

bench_posint BENCH_SECONDS "$seconds"
bench_posint BENCH_TIMEOUT "$play_timeout"
bench_posint BENCH_READY_TIMEOUT "$ready_timeout"
bench_posint BENCH_WORKERS "$workers"
for v in target poll ready_poll; do
    [[ ${!v} =~ ^[0-9]+(\.[0-9]+)?$ ]] || bench_die "$v must be a number of seconds, got '${!v}'"
done
[[ -x $sv_bin ]] || bench_die "$sv_bin not found: run make first, or set BENCH_STREAMVERSE"
bench_need ffmpeg ffprobe curl awk python3
bench_clear_streamverse_env

# ---- temporary state and cleanup ---------------------------------------

started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(bench_loadavg)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sv-bench-ttfp.XXXXXX")
sv_pid=

# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    bench_stop "$sv_pid"
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cp "$sv_bin" "$tmp/streamverse"
sv_orig=$sv_bin
sv_bin=$tmp/streamverse

# ---- the upload ----------------------------------------------------------------

frames=$((seconds * fps))
chunk=$((seconds < 20 ? seconds : 20))
src=$tmp/upload.mp4
bench_note "making the ${seconds} s 1080p upload (mandelbrot, ${chunk} s repeated, x264 crf 16) ..."
ffmpeg -nostdin -v error -y -f lavfi -i "mandelbrot=size=1920x1080:rate=$fps" -t "$chunk" -an \
    -c:v libx264 -preset veryfast -crf 16 -pix_fmt yuv420p -g "$fps" -keyint_min "$fps" \
    -sc_threshold 0 "$tmp/chunk.mp4" || bench_die "ffmpeg could not render the source"
for ((i = 0; i * chunk < seconds; i++)); do echo "file 'chunk.mp4'"; done >"$tmp/chunks.txt"
# Every GOP is closed and 1 s long, so the first $frames packets (decode
# order) end on a GOP boundary: a clean cut with -c copy.
ffmpeg -nostdin -v error -y -f concat -safe 0 -i "$tmp/chunks.txt" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=$seconds" \
    -map 0:v -map 1:a -c:v copy -frames:v "$frames" -c:a aac -b:a 192k -ac 2 \
    -movflags +faststart "$src" || bench_die "ffmpeg could not make the upload"
rm -f "$tmp/chunk.mp4"
bench_probe "$src" v:0 || bench_die "ffprobe cannot read the upload"
[[ $p_packets == "$frames" ]] || bench_die "the upload has $p_packets frames, expected $frames"
src_bytes=$(stat -c %s "$src")
src_mb=$(awk -v b="$src_bytes" 'BEGIN { printf "%.0f", b / 1e6 }')

# ---- the server ----------------------------------------------------------------

data=$tmp/data
mkdir -p "$data"
for attempt in 1 2 3; do
    port=$(bench_pick_port) || bench_die "no free loopback port"
    "$sv_bin" serve --data "$data" --listen "127.0.0.1:$port" --workers "$workers" \
        --job-workers 1 --job-poll 100ms --access-log off --log-level warn \
        >"$tmp/streamverse.log" 2>&1 &
    sv_pid=$!
    bench_wait_http "$sv_pid" "http://127.0.0.1:$port/api/v1/assets" && break
    bench_stop "$sv_pid"
    sv_pid=
    bench_note "streamverse did not start on port $port (attempt $attempt)"
    cat "$tmp/streamverse.log" >&2 || true
done
[[ -n $sv_pid ]] || bench_die "streamverse failed to start"
base=http://127.0.0.1:$port

alive() {
    kill -0 "$sv_pid" 2>/dev/null && return 0
    bench_note "streamverse died; its log:"
    cat "$tmp/streamverse.log" >&2 || true
    exit 1
}

# asset_state JSON_FILE: the state of an asset, without starting an
# interpreter (this runs twice a second beside the transcode). With every
# escape sequence removed, no JSON string holds a quote, and the top-level
# "state" is the first one (the API writes id, title, state, error before
# any nested object).
asset_state() {
    awk '{ gsub(/\\./, "")
           if (match($0, /"state":"[a-z]*"/)) { print substr($0, RSTART + 9, RLENGTH - 10); exit } }' "$1"
}

# asset_field JSON_FILE FIELD: a top-level field of an asset (JSON null: "").
asset_field() {
    python3 -c '
import json, sys
v = json.load(open(sys.argv[1])).get(sys.argv[2])
print("" if v is None else v)' "$1" "$2"
}

# segments PLAYLIST: the number of segment lines in a media playlist.
segments() {
    awk '/^#/ || /^[[:space:]]*$/ { next } { n++ } END { print n + 0 }' "$1"
}

# req_id HEADERS_FILE: the X-Request-Id of a response (streamverse's ids
# name the event-loop thread that answered), "?" without one.
req_id() {
    local v
    v=$(awk 'tolower($1) == "x-request-id:" { print $2; exit }' "$1" 2>/dev/null | tr -d '\r')
    echo "${v:-?}"
}

# anomaly TEXT: something streamverse served that contradicts what it served
# before; reported with the figures (the first 10 in full).
anomalies=()
anomaly() {
    anomalies+=("$1")
    bench_note "inconsistency: $1"
}

# ---- 1. upload ---------------------------------------------------------------

bench_note "uploading $src_mb MB ..."
t_start=$(bench_now)
code=$(curl -s -o "$tmp/created.json" -w '%{http_code}' --max-time 600 \
    -H 'Content-Type: application/octet-stream' --data-binary "@$src" \
    "$base/api/v1/assets?filename=upload.mp4") || true
t_up=$(bench_now)
if [[ $code != 202 ]]; then
    cat "$tmp/created.json" >&2 2>/dev/null || true
    alive
    bench_die "POST /api/v1/assets answered '$code', expected 202 (body above)"
fi
id=$(asset_field "$tmp/created.json" id)
[[ $id =~ ^[0-9]+$ ]] || bench_die "the POST response has no asset id: $(cat "$tmp/created.json")"

# ---- 2. first playable ---------------------------------------------------------

bench_note "asset $id: polling its master playlist every $poll s ..."
master=/vod/$id/master.m3u8
deadline=$(awk -v t="$t_up" -v d="$play_timeout" 'BEGIN { printf "%.3f", t + d }')
polls=0
t_play=
while :; do
    polls=$((polls + 1))
    code=$(curl -s -o "$tmp/master.m3u8" -w '%{http_code}' --max-time 5 "$base$master") || code=000
    if [[ $code == 200 ]]; then
        first=$(awk '/^#/ || /^[[:space:]]*$/ { next } { print; exit }' "$tmp/master.m3u8" | tr -d '\r')
        [[ -n $first ]] || bench_die "$master answered 200 with no variant: $(cat "$tmp/master.m3u8")"
        media=/vod/$id/$first
        if curl -sf -D "$tmp/media.h" -o "$tmp/media.m3u8" --max-time 5 "$base$media" &&
            [[ $(segments "$tmp/media.m3u8") -gt 0 ]]; then
            t_play=$(bench_now)
            break
        fi
    elif [[ $code != 404 ]]; then
        alive
        bench_die "$master answered $code while the asset was being made (expected 404, then 200)"
    fi
    # About once a second (fewer processes beside the transcode): is the
    # server alive, the asset not failed, the deadline not passed?
    if ((polls % 20 == 0)); then
        alive
        curl -sf -o "$tmp/asset.json" --max-time 5 "$base/api/v1/assets/$id" || true
        if [[ -s $tmp/asset.json && $(asset_state "$tmp/asset.json") == failed ]]; then
            bench_die "asset $id failed: $(asset_field "$tmp/asset.json" error)"
        fi
        if awk -v n="$(bench_now)" -v d="$deadline" 'BEGIN { exit !(n > d) }'; then
            bench_die "asset $id not playable ${play_timeout} s after the upload (BENCH_TIMEOUT)"
        fi
    fi
    sleep "$poll"
done
play_type=$(awk -F: '/^#EXT-X-PLAYLIST-TYPE:/ { print $2 }' "$tmp/media.m3u8" | tr -d '\r')
play_segs=$(segments "$tmp/media.m3u8")
play_req=$(req_id "$tmp/media.h")

# What a player fetches next: the init and first segment of that variant,
# and the audio rendition's playlist, init and first segment. Anything that
# contradicts what the server said before (a segment missing that a playlist
# listed, an audio playlist without a segment once the master answered 200)
# is recorded and reported, not retried.
fetched=()
# fetch_first PLAYLIST_PATH PLAYLIST_FILE: its init + first segment, in one
# file, queued for the decode check.
fetch_first() {
    local pl_path=$1 pl=$2 d map seg1 out code n=${#fetched[@]}
    d=${pl_path%/*}
    map=$(awk '/^#EXT-X-MAP:/ && match($0, /URI="[^"]*"/) { print substr($0, RSTART + 5, RLENGTH - 6); exit }' "$pl" | tr -d '\r')
    seg1=$(awk '/^#/ || /^[[:space:]]*$/ { next } { print; exit }' "$pl" | tr -d '\r')
    [[ -n $map ]] || bench_die "$pl_path has no EXT-X-MAP: $(cat "$pl")"
    out=$tmp/first.$n.mp4
    for f in "$map" "$seg1"; do
        code=$(curl -s -D "$tmp/h" -o "$out.part" -w '%{http_code}' --max-time 10 "$base$d/$f") || true
        if [[ $code != 200 ]]; then
            anomaly "GET $d/$f answered ${code:-nothing} although $pl_path listed it (X-Request-Id $(req_id "$tmp/h"))"
            return 0
        fi
        cat "$out.part" >>"$out"
    done
    fetched+=("$d/$map + $d/$seg1:$out")
}
fetch_first "$media" "$tmp/media.m3u8"
audio_pl=$(awk '/^#EXT-X-MEDIA:TYPE=AUDIO/ && match($0, /URI="[^"]*"/) {
    print substr($0, RSTART + 5, RLENGTH - 6); exit }' "$tmp/master.m3u8" | tr -d '\r')
if [[ -n $audio_pl ]]; then
    audio_pl=/vod/$id/$audio_pl
    code=$(curl -s -D "$tmp/audio.h" -o "$tmp/audio.m3u8" -w '%{http_code}' --max-time 10 "$base$audio_pl") || true
    if [[ $code != 200 ]]; then
        anomaly "GET $audio_pl answered ${code:-nothing} right after $master answered 200 (X-Request-Id $(req_id "$tmp/audio.h"))"
    elif (($(segments "$tmp/audio.m3u8") == 0)); then
        anomaly "$audio_pl listed no segment right after $master answered 200, which it does only once every track has one (X-Request-Id $(req_id "$tmp/audio.h"))"
    else
        fetch_first "$audio_pl" "$tmp/audio.m3u8"
    fi
fi

# ---- 3. ready --------------------------------------------------------------------

# Meanwhile the master must stay 200 and the media playlist must only grow
# (an EVENT playlist is only ever appended to, RFC 8216 6.2.1).
bench_note "asset $id: playable; polling its state every $ready_poll s until ready ..."
deadline=$(awk -v t="$t_up" -v d="$ready_timeout" 'BEGIN { printf "%.3f", t + d }')
max_segs=$play_segs max_req=$play_req
while :; do
    alive
    if curl -sf -o "$tmp/asset.json" --max-time 5 "$base/api/v1/assets/$id"; then
        state=$(asset_state "$tmp/asset.json")
        if [[ $state == ready ]]; then
            t_ready=$(bench_now)
            break
        fi
        [[ $state != failed ]] || bench_die "asset $id failed: $(asset_field "$tmp/asset.json" error)"
    fi
    code=$(curl -s -D "$tmp/h" -o /dev/null -w '%{http_code}' --max-time 5 "$base$master") || true
    [[ $code == 200 ]] ||
        anomaly "$master answered ${code:-nothing} after it had answered 200 (X-Request-Id $(req_id "$tmp/h"))"
    code=$(curl -s -D "$tmp/h" -o "$tmp/again.m3u8" -w '%{http_code}' --max-time 5 "$base$media") || true
    if [[ $code == 200 ]]; then
        n=$(segments "$tmp/again.m3u8")
        if ((n < max_segs)); then
            anomaly "$media listed $n segments (X-Request-Id $(req_id "$tmp/h")) after listing $max_segs (X-Request-Id $max_req)"
        else
            max_segs=$n max_req=$(req_id "$tmp/h")
        fi
    else
        anomaly "$media answered ${code:-nothing} after it had listed segments (X-Request-Id $(req_id "$tmp/h"))"
    fi
    if awk -v n="$(bench_now)" -v d="$deadline" 'BEGIN { exit !(n > d) }'; then
        bench_die "asset $id not ready ${ready_timeout} s after the upload (BENCH_READY_TIMEOUT)"
    fi
    sleep "$ready_poll"
done
load_after=$(bench_loadavg)

# ---- checks ----------------------------------------------------------------------

for f in "${fetched[@]}"; do
    bench_decodes "${f##*:}" || bench_die "${f%:*} does not decode cleanly (above)"
done
want_segs=$(((seconds + seg - 1) / seg))
# check_final: the first media playlist, once the asset is ready, is a whole
# VOD playlist. Sets final_problem to what is wrong ("" when nothing).
check_final() {
    local code
    final_problem=
    code=$(curl -s -D "$tmp/h" -o "$tmp/media.m3u8" -w '%{http_code}' --max-time 5 "$base$media") || true
    got_segs=$(segments "$tmp/media.m3u8")
    if [[ $code != 200 ]]; then
        final_problem="answered ${code:-nothing}"
    elif ! grep -q '^#EXT-X-ENDLIST' "$tmp/media.m3u8"; then
        final_problem="has no #EXT-X-ENDLIST ($got_segs segments)"
    elif [[ $got_segs != "$want_segs" ]]; then
        final_problem="lists $got_segs segments, expected $want_segs"
    fi
    final_problem=${final_problem:+$final_problem (X-Request-Id $(req_id "$tmp/h"))}
}
check_final
if [[ -n $final_problem ]]; then
    anomaly "$media $final_problem right after the asset's state was ready"
    # What it serves once every cache (http_file_cache_valid, 1 s by
    # default) has expired must be right.
    sleep 1.5
    check_final
    [[ -z $final_problem ]] || bench_die "$media $final_problem 1.5 s after the asset was ready"
fi
for f in "${fetched[@]}"; do
    bench_decodes "${f##*:}" || bench_die "${f%:*} does not decode cleanly (above)"
done

# ---- report ----------------------------------------------------------------

upload_s=$(bench_sub "$t_start" "$t_up")
play_s=$(bench_sub "$t_up" "$t_play")
ready_s=$(bench_sub "$t_up" "$t_ready")
if awk -v p="$play_s" -v t="$target" 'BEGIN { exit !(p < t) }'; then result=met; else result=MISSED; fi

echo
echo "StreamVerse time to first playable (bench/ttfp)"
echo "date:     $started (start of the run)"
echo "machine:  $(bench_machine)"
echo "load:     before $load_before, after $load_after (1/5/15 min load average;"
echo "          other work on the machine slows the transcode; quiet is below 0.5)"
echo "software: $("$sv_bin" --version 2>&1 | head -n 1) ($sv_orig, repo git $(bench_git_rev "$repo"))"
echo "server:   streamverse serve --workers $workers --job-workers 1 --job-poll 100ms"
echo "          --access-log off --log-level warn (default ladder and preset)"
echo "upload:   $seconds s 1920x1080 25 fps H.264 crf 16 (mandelbrot) + AAC 192k, $src_mb MB,"
echo "          POST /api/v1/assets?filename=upload.mp4 (curl --data-binary), asset $id"
echo "polling:  master playlist every $poll s; asset state every $ready_poll s"
echo
printf '| %-15s | %28s | %27s | %-15s |\n' milestone "s after upload complete" "s after upload start" target
printf '|%s|%s|%s|%s|\n' ----------------- ------------------------------ ----------------------------- -----------------
printf '| %-15s | %28s | %27s | %-15s |\n' "upload complete" 0 "$upload_s" ""
printf '| %-15s | %28s | %27s | %-15s |\n' "first playable" "$play_s" "$(bench_sub "$t_start" "$t_play")" "< $target s: $result"
printf '| %-15s | %28s | %27s | %-15s |\n' ready "$ready_s" "$(bench_sub "$t_start" "$t_ready")" ""
echo
echo "upload complete: the POST's 202 response arrived ($src_mb MB in $upload_s s over loopback)."
echo "first playable: $master answered 200 and ${media#/vod/"$id"/} listed $play_segs segment(s) (playlist"
echo "               type ${play_type:-none}, X-Request-Id $play_req). Fetched right then, decode cleanly:"
for f in "${fetched[@]}"; do
    echo "               ${f%:*}"
done
echo "ready: the asset's state was \"ready\" ($(bench_div "$seconds" "$ready_s" "%.2fx") realtime from upload complete);"
echo "       ${media#/vod/"$id"/} then ends with #EXT-X-ENDLIST and lists $got_segs segments."
if awk -v l="${load_before%% *}" -v m="${load_after%% *}" 'BEGIN { exit !(l > 0.5 || m > 0.5) }'; then
    echo "warning: the machine was not quiet (load average above 0.5): the transcode shared the CPUs;"
    echo "         run again on a quiet machine for the record."
fi
if ((${#anomalies[@]})); then
    echo
    echo "INCONSISTENT: streamverse served ${#anomalies[@]} response(s) that contradict what it had served"
    echo "before (X-Request-Id names the event-loop thread: 0000... thread 0, 0100... thread 1):"
    for ((i = 0; i < ${#anomalies[@]} && i < 10; i++)); do
        echo "  - ${anomalies[i]}"
    done
    ((${#anomalies[@]} <= 10)) || echo "  - ... and $((${#anomalies[@]} - 10)) more"
fi
if [[ $result == MISSED ]]; then
    echo "target missed (figures only: exit status stays 0)."
fi
exit 0
