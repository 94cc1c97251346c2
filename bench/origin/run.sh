#!/usr/bin/env bash
# bench/origin/run.sh: VoD origin serving, `streamverse serve` against nginx
# serving ffmpeg's packaging of the same renditions.
#
# Makes a 1920x1080 25 fps source (testsrc2 + sine; its content does not
# matter here) and ingests it once with `streamverse ingest` and the default
# ladder (1080p, 720p, 480p, 360p, 240p and one AAC track: six CMAF track
# files with their fragment indexes), then packages those same six tracks
# with ffmpeg -c copy as fMP4 HLS (-f hls -hls_segment_type fmp4 -hls_time 4
# -hls_playlist_type vod -var_stream_map: one rendition per track, segment
# files and playlists on disk). Then it serves:
#
#   streamverse serve --workers N --access-log off --log-level warn
#       --job-workers 0
#     /vod/ID/master.m3u8, /vod/ID/R/index.m3u8, init.mp4 and N.m4s, made
#     from the track files and indexes (segments are byte ranges of the
#     track file, sent with sendfile);
#   nginx (the Debian package), generated configuration: worker_processes N,
#     sendfile on, access_log off, keepalive_requests 10000, the ffmpeg
#     files as static files under the same /vod/ID/ paths.
#
# Before measuring, it lists each server's URLs from its own master playlist
# (the master, every media playlist it names, their init segments and every
# media segment; I-frame playlists and streamverse's DASH manifest are left
# out, as nginx has no counterpart), checks that every URL answers 200 on its
# server, and that streamverse's init and first, middle and last segments of
# every rendition are byte for byte the ranges its fragment index gives in
# track.mp4 (read with dd). A failed check stops the script with a non-zero
# status.
#
# Then, for each server, a wrk warm-up and the measurement with the same
# settings; origin/urls.lua makes every connection cycle through all the
# asset's URLs. Prints requests/s, MB/s, p50/p99 latency and errors, and the
# ratios StreamVerse/nginx.
#
# Environment (all optional):
#   BENCH_SECONDS      source duration in seconds (default 60)
#   BENCH_PRESET       x264 preset of the ingest (default ultrafast: the
#                      bitrates, hence the segment sizes, are the ladder's
#                      whatever the preset, and the ingest is not measured)
#   BENCH_DURATION     wrk duration of each measurement (default 10s)
#   BENCH_CONNECTIONS  wrk connections (default 64)
#   BENCH_THREADS      wrk threads (default 2)
#   BENCH_WORKERS      nginx worker processes and streamverse event-loop
#                      threads (default 2)
#   BENCH_WARMUP       wrk warm-up before each measurement (default 2s)
#   BENCH_STREAMVERSE  binary to measure (default build/streamverse)
#   BENCH_NGINX        nginx binary (default: nginx on PATH, else /usr/sbin/nginx)
#
# STREAMVERSE_* variables are cleared: the binary runs with its defaults and
# the flags above.
#
# Exit status: 0 when the figures were measured, whatever they are (this is a
# benchmark, not a test); non-zero when a tool is missing, a server failed to
# start or died, a URL did not answer 200, streamverse's bytes differed from
# its index, or wrk gave no result.
#
# Only loopback is used. Everything the run creates lives in one mktemp -d
# directory, removed on exit together with the servers it started.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
bench_name=origin
# shellcheck source=bench/lib.sh
. "$repo/bench/lib.sh"

seconds=${BENCH_SECONDS:-60}
preset=${BENCH_PRESET:-ultrafast}
duration=${BENCH_DURATION:-10s}
connections=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-2}
workers=${BENCH_WORKERS:-2}
warmup=${BENCH_WARMUP:-2s}
sv_bin=${BENCH_STREAMVERSE:-$repo/build/streamverse}
nginx_bin=${BENCH_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
lua_script=$here/urls.lua
fps=25

# ---- arguments and tools -------------------------------------------------

for v in seconds connections threads workers; do
    bench_posint "$v" "${!v}"
done
for v in duration warmup; do
    [[ ${!v} =~ ^[0-9]+[smh]?$ ]] || bench_die "$v must look like 10s, 2m or 30, got '${!v}'"
done
((threads <= connections)) || bench_die "BENCH_THREADS ($threads) exceeds BENCH_CONNECTIONS ($connections)"
[[ $preset =~ ^(ultrafast|superfast|veryfast|faster|fast|medium|slow|slower|veryslow|placebo)$ ]] ||
    bench_die "BENCH_PRESET must be an x264 preset, got '$preset'"
[[ -x $sv_bin ]] || bench_die "$sv_bin not found: run make first, or set BENCH_STREAMVERSE"
[[ -x $nginx_bin ]] || bench_die "nginx not found (scripts/deps.sh installs it)"
bench_need ffmpeg ffprobe wrk curl cmp dd od awk timeout python3
bench_clear_streamverse_env

duration_seconds() {
    local d=$1 n=${1%[smh]}
    case $d in
    *m) echo $((n * 60)) ;;
    *h) echo $((n * 3600)) ;;
    *) echo "$n" ;;
    esac
}

# ---- temporary state and cleanup ---------------------------------------

started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(bench_loadavg)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sv-bench-origin.XXXXXX")
nginx_pid=
sv_pid=

# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    bench_stop "$sv_pid"
    bench_stop "$nginx_pid"
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cp "$sv_bin" "$tmp/streamverse"
sv_orig=$sv_bin
sv_bin=$tmp/streamverse

# ---- the asset, twice ----------------------------------------------------------

src=$tmp/source.mp4
bench_note "making the ${seconds} s 1080p source ..."
ffmpeg -nostdin -v error -y \
    -f lavfi -i "testsrc2=size=1920x1080:rate=$fps" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" \
    -t "$seconds" -map 0:v -map 1:a \
    -c:v libx264 -preset ultrafast -crf 18 -g $((2 * fps)) -pix_fmt yuv420p \
    -c:a aac -b:a 192k -ac 2 "$src" ||
    bench_die "ffmpeg could not make the source"

data=$tmp/data
bench_note "streamverse ingest (default ladder, preset $preset) ..."
if ! "$sv_bin" ingest "$src" --data "$data" --video-preset "$preset" --log-level warn \
    >"$tmp/ingest.out" 2>"$tmp/ingest.err"; then
    tail -n 20 "$tmp/ingest.err" >&2
    bench_die "streamverse ingest failed (its last stderr lines above)"
fi
id=$(tail -n 1 "$tmp/ingest.out")
[[ $id =~ ^[0-9]+$ ]] || bench_die "streamverse ingest printed '$id' as its last line, not an asset id"
vod=$data/media/vod/$id

# The renditions, in asset.json's order (the ladder's, highest first, then
# audio), each with its track file and index.
mapfile -t renditions < <(python3 -c '
import json, sys
for r in json.load(open(sys.argv[1]))["renditions"]:
    print(r["name"])' "$vod/asset.json") || bench_die "cannot read $vod/asset.json"
for r in "${renditions[@]}"; do
    [[ -s $vod/$r/track.mp4 && -s $vod/$r/track.idx ]] ||
        bench_die "streamverse: asset.json names rendition $r, but $vod/$r has no track.mp4 + track.idx"
done
((${#renditions[@]} >= 2)) || bench_die "streamverse made ${#renditions[@]} renditions under $vod"

www=$tmp/www
ff_inputs=() ff_maps=() vsm=()
nv=0 na=0
for i in "${!renditions[@]}"; do
    r=${renditions[i]}
    ff_inputs+=(-i "$vod/$r/track.mp4")
    ff_maps+=(-map "$i")
    if [[ $r == audio-* ]]; then
        vsm+=("a:$na,agroup:audio,name:$r")
        na=$((na + 1))
    else
        vsm+=("v:$nv,agroup:audio,name:$r")
        nv=$((nv + 1))
    fi
done
bench_note "ffmpeg -c copy to fMP4 HLS (${#renditions[@]} renditions) ..."
mkdir -p "$www/vod/$id"
ffmpeg -nostdin -v error -y "${ff_inputs[@]}" "${ff_maps[@]}" -c copy \
    -f hls -hls_segment_type fmp4 -hls_time 4 -hls_playlist_type vod -start_number 1 \
    -hls_fmp4_init_filename init.mp4 -hls_segment_filename "$www/vod/$id/%v/%d.m4s" \
    -master_pl_name master.m3u8 -var_stream_map "${vsm[*]}" "$www/vod/$id/%v/index.m3u8" ||
    bench_die "ffmpeg could not package the tracks as HLS"

# ---- servers -----------------------------------------------------------------

master_path=/vod/$id/master.m3u8

write_nginx_conf() {
    local port=$1 user_line=
    ((EUID == 0)) && user_line="user root;"
    cat >"$tmp/nginx/nginx.conf" <<EOF
# Generated by bench/origin/run.sh.
$user_line
daemon off;
master_process on;
worker_processes $workers;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events {
    worker_connections $((connections + 512));
}
http {
    access_log off;
    sendfile on;
    tcp_nopush off;
    # Same keep-alive budget as streamverse's http_keepalive_requests default.
    keepalive_requests 10000;
    types {
        application/vnd.apple.mpegurl m3u8;
        video/mp4 mp4 m4s;
    }
    default_type application/octet-stream;
    client_body_temp_path $tmp/nginx/temp/client;
    proxy_temp_path $tmp/nginx/temp/proxy;
    fastcgi_temp_path $tmp/nginx/temp/fastcgi;
    uwsgi_temp_path $tmp/nginx/temp/uwsgi;
    scgi_temp_path $tmp/nginx/temp/scgi;
    server {
        listen 127.0.0.1:$port;
        root $www;
        location /vod/ {
        }
        location / {
            return 404;
        }
    }
}
EOF
}

start_nginx() {
    local attempt
    mkdir -p "$tmp/nginx/logs" "$tmp/nginx/temp"
    for attempt in 1 2 3; do
        nginx_port=$(bench_pick_port) || bench_die "no free loopback port"
        write_nginx_conf "$nginx_port"
        "$nginx_bin" -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" \
            -e "$tmp/nginx/logs/error.log" >"$tmp/nginx/stdout.log" 2>&1 &
        nginx_pid=$!
        bench_wait_http "$nginx_pid" "http://127.0.0.1:$nginx_port$master_path" && return 0
        bench_stop "$nginx_pid"
        nginx_pid=
        bench_note "nginx did not start on port $nginx_port (attempt $attempt)"
        cat "$tmp/nginx/stdout.log" "$tmp/nginx/logs/error.log" >&2 2>/dev/null || true
    done
    bench_die "nginx failed to start"
}

start_streamverse() {
    local attempt
    for attempt in 1 2 3; do
        sv_port=$(bench_pick_port) || bench_die "no free loopback port"
        [[ $sv_port != "$nginx_port" ]] || continue
        "$sv_bin" serve --data "$data" --listen "127.0.0.1:$sv_port" --workers "$workers" \
            --access-log off --log-level warn --job-workers 0 >"$tmp/streamverse.log" 2>&1 &
        sv_pid=$!
        bench_wait_http "$sv_pid" "http://127.0.0.1:$sv_port$master_path" && return 0
        bench_stop "$sv_pid"
        sv_pid=
        bench_note "streamverse did not start on port $sv_port (attempt $attempt)"
        cat "$tmp/streamverse.log" >&2 || true
    done
    bench_die "streamverse failed to start"
}

start_nginx
start_streamverse

# ---- the URLs, and checks ------------------------------------------------------

# list_urls SERVER PORT OUT: the asset's paths on that server, from its master
# playlist: the master, the media playlists (variants and EXT-X-MEDIA URIs,
# not I-frame playlists), each one's EXT-X-MAP and its segments.
list_urls() {
    local server=$1 port=$2 out=$3 base body dir pl path pdir
    base=http://127.0.0.1:$port
    body=$(curl -sf --max-time 10 "$base$master_path") ||
        bench_die "$server: GET $master_path failed"
    echo "$master_path" >"$out"
    dir=${master_path%/*}
    local -a playlists
    mapfile -t playlists < <(awk '
        /^#EXT-X-MEDIA:/ { if (match($0, /URI="[^"]*"/)) print substr($0, RSTART + 5, RLENGTH - 6); next }
        /^#/ || /^[[:space:]]*$/ { next }
        { print }' <<<"$body" | tr -d '\r' | awk '!seen[$0]++')
    ((${#playlists[@]} > 0)) || bench_die "$server: no media playlist in $master_path"
    for pl in "${playlists[@]}"; do
        path=$dir/$pl
        pdir=${path%/*}
        echo "$path" >>"$out"
        body=$(curl -sf --max-time 10 "$base$path") || bench_die "$server: GET $path failed"
        awk -v d="$pdir" '
            /^#EXT-X-MAP:/ { if (match($0, /URI="[^"]*"/)) print d "/" substr($0, RSTART + 5, RLENGTH - 6); next }
            /^#/ || /^[[:space:]]*$/ { next }
            { print d "/" $0 }' <<<"$body" | tr -d '\r' >>"$out"
    done
}

# check_urls SERVER PORT LIST: every URL answers 200; sets list_bytes to the
# bytes of one pass through the list (bodies only).
check_urls() {
    local server=$1 port=$2 list=$3 line code size bad=0
    list_bytes=0
    while read -r code size line; do
        if [[ $code != 200 ]]; then
            bench_note "$server: GET $line answered $code"
            bad=$((bad + 1))
        fi
        list_bytes=$((list_bytes + ${size%.*}))
    done < <(while read -r line; do
        printf '%s %s\n' "$(curl -s -o /dev/null --max-time 10 -w '%{http_code} %{size_download}' \
            "http://127.0.0.1:$port$line")" "$line"
    done <"$list")
    ((bad == 0)) || bench_die "$server: $bad URLs did not answer 200"
}

# idx_u64 / idx_u32 FILE OFFSET: a little-endian field of a fragment index.
idx_u64() { od -An -v -t u8 -j "$2" -N 8 --endian=little "$1" | tr -d ' '; }
idx_u32() { od -An -v -t u4 -j "$2" -N 4 --endian=little "$1" | tr -d ' '; }

# check_ranges: streamverse's init and a few segments of every rendition are
# the bytes its index gives in track.mp4.
check_ranges() {
    local r idx trk magic init n count off size got want checked=0
    for r in "${renditions[@]}"; do
        idx=$vod/$r/track.idx
        trk=$vod/$r/track.mp4
        magic=$(head -c 8 "$idx")
        [[ $magic == SVCMAFI1 ]] || bench_die "$r: $idx does not start with SVCMAFI1"
        init=$(idx_u64 "$idx" 24)
        count=$((($(stat -c %s "$idx") - 64) / 32))
        ((count > 0)) || bench_die "$r: $idx has no fragment"
        got=$tmp/range.got
        want=$tmp/range.want
        curl -sf --max-time 10 -o "$got" "http://127.0.0.1:$sv_port/vod/$id/$r/init.mp4" ||
            bench_die "streamverse: GET /vod/$id/$r/init.mp4 failed"
        head -c "$init" "$trk" >"$want"
        cmp -s "$got" "$want" || bench_die "streamverse: /vod/$id/$r/init.mp4 differs from bytes 0..$init of $trk"
        checked=$((checked + 1))
        for n in $(printf '%s\n' 1 $(((count + 1) / 2)) "$count" | sort -nu); do
            off=$(idx_u64 "$idx" $((64 + 32 * (n - 1) + 16)))
            size=$(idx_u32 "$idx" $((64 + 32 * (n - 1) + 24)))
            curl -sf --max-time 10 -o "$got" "http://127.0.0.1:$sv_port/vod/$id/$r/$n.m4s" ||
                bench_die "streamverse: GET /vod/$id/$r/$n.m4s failed"
            dd if="$trk" of="$want" bs=64K iflag=skip_bytes,count_bytes skip="$off" count="$size" status=none
            cmp -s "$got" "$want" ||
                bench_die "streamverse: /vod/$id/$r/$n.m4s differs from bytes $off+$size of $trk (index entry $n)"
            checked=$((checked + 1))
        done
    done
    ranges_checked=$checked
}

bench_note "listing and checking every URL on both servers ..."
list_urls nginx "$nginx_port" "$tmp/urls.nginx"
list_urls streamverse "$sv_port" "$tmp/urls.streamverse"
check_urls nginx "$nginx_port" "$tmp/urls.nginx"
bytes_nginx=$list_bytes
check_urls streamverse "$sv_port" "$tmp/urls.streamverse"
bytes_sv=$list_bytes
check_ranges
n_nginx=$(wc -l <"$tmp/urls.nginx")
n_sv=$(wc -l <"$tmp/urls.streamverse")
segs_nginx=$(grep -c '\.m4s$' "$tmp/urls.nginx" || true)
segs_sv=$(grep -c '\.m4s$' "$tmp/urls.streamverse" || true)

# ---- measurements ------------------------------------------------------------

wrk_timeout=$(($(duration_seconds "$duration") + $(duration_seconds "$warmup") + 60))

# run_wrk SERVER PORT DURATION: sets wrk_result to the WRK_RESULT fields.
run_wrk() {
    local server=$1 port=$2 d=$3 out line
    out=$tmp/wrk.$server.out
    timeout "$wrk_timeout" wrk -t"$threads" -c"$connections" -d"$d" -s "$lua_script" \
        "http://127.0.0.1:$port/" -- "$tmp/urls.$server" >"$out" 2>&1 || true
    line=$(grep '^WRK_RESULT ' "$out" | tail -n 1) || true
    if [[ -z $line ]]; then
        cat "$out" >&2
        bench_die "wrk against $server gave no result"
    fi
    wrk_result=${line#WRK_RESULT }
}

check_alive() {
    if ! kill -0 "$2" 2>/dev/null; then
        bench_note "$1 died during the run; its log:"
        cat "$3" >&2 || true
        exit 1
    fi
}

declare -A rps mbps p50 p99 errs
for server in nginx streamverse; do
    if [[ $server == nginx ]]; then port=$nginx_port; else port=$sv_port; fi
    bench_note "measuring $server ..."
    run_wrk "$server" "$port" "$warmup"
    run_wrk "$server" "$port" "$duration"
    read -r n dur_us bytes e_conn e_read e_write e_status e_timeout l50 l99 <<<"$wrk_result"
    check_alive nginx "$nginx_pid" "$tmp/nginx/logs/error.log"
    check_alive streamverse "$sv_pid" "$tmp/streamverse.log"
    rps[$server]=$(awk -v n="$n" -v d="$dur_us" 'BEGIN { printf "%.0f", n / (d / 1e6) }')
    mbps[$server]=$(awk -v b="$bytes" -v d="$dur_us" 'BEGIN { printf "%.1f", b / d }')
    p50[$server]=$(awk -v u="$l50" 'BEGIN { printf "%.2f", u / 1000 }')
    p99[$server]=$(awk -v u="$l99" 'BEGIN { printf "%.2f", u / 1000 }')
    e=
    ((e_conn)) && e+="connect $e_conn "
    ((e_read)) && e+="read $e_read "
    ((e_write)) && e+="write $e_write "
    ((e_status)) && e+="non-2xx $e_status "
    ((e_timeout)) && e+="timeout $e_timeout "
    errs[$server]=${e:-0}
done
load_after=$(bench_loadavg)

# ---- report ----------------------------------------------------------------

echo
echo "StreamVerse VoD origin benchmark (bench/origin)"
echo "date:     $started (start of the run)"
echo "machine:  $(bench_machine)"
echo "load:     before $load_before, after $load_after (1/5/15 min load average;"
echo "          other work on the machine skews the figures; quiet is below 0.5)"
echo "software: $("$sv_bin" --version 2>&1 | head -n 1) ($sv_orig, repo git $(bench_git_rev "$repo")),"
echo "          $("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //'), ffmpeg $(ffmpeg -version | awk 'NR == 1 { print $3 }'), wrk $( (wrk -v 2>&1 || true) | awk 'NR == 1 { print $2 }')"
echo "asset:    $seconds s 1080p source, default ladder (x264 $preset): ${renditions[*]}"
echo "          streamverse: $n_sv URLs ($segs_sv media segments), $bytes_sv B per pass"
echo "          nginx:       $n_nginx URLs ($segs_nginx media segments), $bytes_nginx B per pass"
echo "          (master, media playlists, init segments, segments; all answered 200;"
echo "          streamverse's bytes equal its index's ranges of track.mp4 in the"
echo "          $ranges_checked init/media segments compared)"
echo "settings: wrk -t$threads -c$connections -d$duration (after a $warmup warm-up), each connection"
echo "          cycling through all the URLs; $workers workers in each server, keep-alive on,"
echo "          sendfile on, access log off in both"
echo
printf '| %-11s | %10s | %8s | %6s | %6s | %-6s |\n' server requests/s MB/s "p50 ms" "p99 ms" errors
printf '|%s|%s|%s|%s|%s|%s|\n' ------------- ------------ ---------- -------- -------- --------
for server in nginx streamverse; do
    printf '| %-11s | %10s | %8s | %6s | %6s | %-6s |\n' "$server" "${rps[$server]}" "${mbps[$server]}" \
        "${p50[$server]}" "${p99[$server]}" "${errs[$server]% }"
done
echo
printf '| %-30s | %-25s |\n' "StreamVerse/nginx requests/s" "StreamVerse/nginx MB/s"
printf '|%s|%s|\n' -------------------------------- ---------------------------
printf '| %-30s | %-25s |\n' "$(bench_div "${rps[streamverse]}" "${rps[nginx]}")x" \
    "$(bench_div "${mbps[streamverse]}" "${mbps[nginx]}")x"
echo
echo "MB = 10^6 bytes, response headers included. errors as counted by wrk. wrk and the servers"
echo "share the machine's $(nproc) CPUs, the same for both servers."
if awk -v l="${load_before%% *}" -v m="${load_after%% *}" 'BEGIN { exit !(l > 0.5 || m > 0.5) }'; then
    echo "warning: the machine was not quiet (load average above 0.5): compare the ratios, not the"
    echo "         absolute figures, and run again on a quiet machine for the record."
fi
for server in nginx streamverse; do
    if [[ ${errs[$server]} == *non-2xx* ]]; then
        echo "warning: $server answered non-2xx responses: its figure is suspect."
    fi
done
exit 0
