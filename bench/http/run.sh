#!/usr/bin/env bash
# bench/http/run.sh: static file serving, StreamVerse against nginx.
#
# Serves one set of files (4 KB, 100 KB and 2 MB, random content) from
# `streamverse serve` and from nginx (Debian package) with the same number of
# workers, sendfile on and access logs off in both, then drives each with wrk
# on loopback with the same threads, connections and duration, cycling through
# the same URLs. Prints requests/s and MB/s for each server and size, and the
# ratio StreamVerse/nginx against the targets of issue 2.
#
# Environment (all optional):
#   BENCH_DURATION     wrk duration of each measurement (default 10s)
#   BENCH_CONNECTIONS  wrk connections (default 64)
#   BENCH_THREADS      wrk threads (default 2)
#   BENCH_WORKERS      worker processes / event-loop threads per server (default 2)
#   BENCH_WARMUP       wrk warm-up before each measurement (default 2s)
#   BENCH_FILES        distinct files of each size (default 16)
#   BENCH_STREAMVERSE  binary to measure (default build/streamverse)
#   BENCH_NGINX        nginx binary (default: nginx on PATH, else /usr/sbin/nginx)
#   BENCH_NGINX_OPEN_FILE_CACHE=1  turns on nginx's open_file_cache (max=1000
#                      valid=1s), the counterpart of streamverse's
#                      http_file_cache_valid (1s by default); nginx's default is off
#
# Exit status: 0 when the figures were measured, whether or not the targets
# were met (this is a benchmark, not a test); non-zero when a server failed to
# start or died, when the servers' content differed from the files, or when a
# tool is missing or wrk produced no result.
#
# Only loopback is used. Everything the run creates lives in one mktemp -d
# directory, removed on exit together with the servers it started.

set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

duration=${BENCH_DURATION:-10s}
connections=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-2}
workers=${BENCH_WORKERS:-2}
nginx_ofc=""
if [ "${BENCH_NGINX_OPEN_FILE_CACHE:-0}" = 1 ]; then
  nginx_ofc="open_file_cache max=1000 inactive=20s; open_file_cache_valid 1s;"
fi
warmup=${BENCH_WARMUP:-2s}
files_per_size=${BENCH_FILES:-16}
sv_bin=${BENCH_STREAMVERSE:-$repo/build/streamverse}
nginx_bin=${BENCH_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
lua_script=$here/files.lua

# label, human size, bytes, target ratio (StreamVerse/nginx requests/s).
size_labels=(4k 100k 2m)
size_names=("4 KB" "100 KB" "2 MB")
size_bytes=(4096 102400 2097152)
size_targets=(0.8 1.0 1.0)

die() {
    echo "bench/http: $*" >&2
    exit 1
}

# ---- arguments and tools -------------------------------------------------

for v in connections threads workers files_per_size; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
((files_per_size <= 100)) || die "BENCH_FILES must be at most 100"
for v in duration warmup; do
    [[ ${!v} =~ ^[0-9]+[smh]?$ ]] || die "$v must look like 10s, 2m or 30, got '${!v}'"
done
((threads <= connections)) || die "BENCH_THREADS ($threads) exceeds BENCH_CONNECTIONS ($connections)"

[[ -x $sv_bin ]] || die "$sv_bin not found: run make first"
[[ -x $nginx_bin ]] || die "nginx not found (scripts/deps.sh installs it)"
for tool in wrk curl cmp timeout awk pgrep; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/deps.sh installs it)"
done

# Seconds in a wrk duration ("10s", "2m", "1h", "30").
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
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sv-bench-http.XXXXXX")
nginx_pid=
sv_pid=
wrk_pid=

# Stops one server we started: SIGTERM (nginx: fast shutdown; streamverse:
# graceful, nothing is in flight by now), SIGKILL after 10 s.
stop_server() {
    local pid=$1 i
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# shellcheck disable=SC2317  # invoked by the trap
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $wrk_pid ]]; then
        kill -TERM "$wrk_pid" 2>/dev/null || true
        wait "$wrk_pid" 2>/dev/null || true
    fi
    stop_server "$sv_pid"
    stop_server "$nginx_pid"
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The binary under test is copied first: other work may rebuild build/ while
# the benchmark runs, and one run must measure one binary.
cp "$sv_bin" "$tmp/streamverse"
sv_bin=$tmp/streamverse

# ---- the file set ----------------------------------------------------------

data=$tmp/data
media=$data/media
mkdir -p "$media" "$tmp/nginx/logs" "$tmp/nginx/temp"
for i in "${!size_labels[@]}"; do
    mkdir -p "$media/${size_labels[i]}"
    for ((f = 0; f < files_per_size; f++)); do
        head -c "${size_bytes[i]}" /dev/urandom >"$media/${size_labels[i]}/$(printf 'f%02d.bin' "$f")"
    done
done

# ---- servers -----------------------------------------------------------------

# A loopback TCP port nobody listens on, outside the ephemeral range so that
# wrk's own connections cannot take it. Another process can still bind it
# before our server does: start_* then retries with a new port.
pick_port() {
    local p _
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 12000))
        [[ $p != "${nginx_port:-}" ]] || continue
        if command -v ss >/dev/null; then
            [[ -z $(ss -Htln "sport = :$p") ]] && { echo "$p"; return 0; }
        elif ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# Waits until pid answers url with 200; fails if pid exits or after 10 s.
wait_ready() {
    local pid=$1 url=$2 i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        curl -sf -o /dev/null --max-time 1 "$url" && return 0
        sleep 0.1
    done
    return 1
}

probe_path=/media/${size_labels[0]}/f00.bin

write_nginx_conf() {
    local port=$1 user_line=
    # "user" only means something when the master runs as root.
    ((EUID == 0)) && user_line="user root;"
    # worker_connections: room for every wrk connection in one worker.
    local wc=$((connections + 512))
    cat >"$tmp/nginx/nginx.conf" <<EOF
# Generated by bench/http/run.sh.
$user_line
daemon off;
master_process on;
worker_processes $workers;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/logs/error.log warn;
events {
    worker_connections $wc;
}
http {
    access_log off;
    sendfile on;
    tcp_nopush off;
    # Same keep-alive budget as streamverse's http_keepalive_requests default,
    # so neither server reconnects more often than the other.
    keepalive_requests 10000;
    $nginx_ofc
    default_type application/octet-stream;
    client_body_temp_path $tmp/nginx/temp/client;
    proxy_temp_path $tmp/nginx/temp/proxy;
    fastcgi_temp_path $tmp/nginx/temp/fastcgi;
    uwsgi_temp_path $tmp/nginx/temp/uwsgi;
    scgi_temp_path $tmp/nginx/temp/scgi;
    server {
        listen 127.0.0.1:$port;
        # /media/<path> -> $media/<path>, as in streamverse.
        root $data;
        location /media/ {
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
    for attempt in 1 2 3; do
        nginx_port=$(pick_port) || die "no free loopback port"
        write_nginx_conf "$nginx_port"
        "$nginx_bin" -p "$tmp/nginx/" -c "$tmp/nginx/nginx.conf" \
            -e "$tmp/nginx/logs/error.log" >"$tmp/nginx/stdout.log" 2>&1 &
        nginx_pid=$!
        wait_ready "$nginx_pid" "http://127.0.0.1:$nginx_port$probe_path" && return 0
        stop_server "$nginx_pid"
        nginx_pid=
        echo "bench/http: nginx did not start on port $nginx_port (attempt $attempt)" >&2
        cat "$tmp/nginx/stdout.log" "$tmp/nginx/logs/error.log" >&2 2>/dev/null || true
    done
    die "nginx failed to start"
}

start_streamverse() {
    local attempt
    for attempt in 1 2 3; do
        sv_port=$(pick_port) || die "no free loopback port"
        "$sv_bin" serve --data "$data" --listen "127.0.0.1:$sv_port" \
            --workers "$workers" --access-log off --log-level warn \
            >"$tmp/streamverse.log" 2>&1 &
        sv_pid=$!
        wait_ready "$sv_pid" "http://127.0.0.1:$sv_port$probe_path" && return 0
        stop_server "$sv_pid"
        sv_pid=
        echo "bench/http: streamverse did not start on port $sv_port (attempt $attempt)" >&2
        cat "$tmp/streamverse.log" >&2 || true
    done
    die "streamverse failed to start"
}

# Share of the CPUs that other work used in the second before the run: the
# figures are only comparable between quiet runs.
cpu_busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6; exit }' /proc/stat; }
read -r busy0 idle0 < <(cpu_busy_ticks)
sleep 1
read -r busy1 idle1 < <(cpu_busy_ticks)
busy_before=$(awk -v b=$((busy1 - busy0)) -v i=$((idle1 - idle0)) \
    'BEGIN { printf "%.0f", (b + i > 0 ? 100 * b / (b + i) : 0) }')

start_nginx
start_streamverse

# ---- same bytes from both ------------------------------------------------------

# Every file, from both servers, must be byte-identical to what is on disk.
for label in "${size_labels[@]}"; do
    for ((f = 0; f < files_per_size; f++)); do
        name=$(printf 'f%02d.bin' "$f")
        for server in nginx streamverse; do
            if [[ $server == nginx ]]; then port=$nginx_port; else port=$sv_port; fi
            got=$tmp/got.$server
            curl -sf --max-time 10 -o "$got" "http://127.0.0.1:$port/media/$label/$name" ||
                die "$server: GET /media/$label/$name failed"
            cmp -s "$got" "$media/$label/$name" ||
                die "$server: /media/$label/$name differs from the file on disk"
        done
    done
done

# ---- measurements ------------------------------------------------------------

wrk_timeout=$(($(duration_seconds "$duration") + $(duration_seconds "$warmup") + 60))

clk_tck=$(getconf CLK_TCK 2>/dev/null || echo 100)

# Busy and total clock ticks of the whole machine. Steal (time the hypervisor
# gave to someone else) counts as busy: it is CPU this run did not get.
machine_ticks() {
    awk '/^cpu / { b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6; exit }' /proc/stat
}

# Clock ticks used so far by the given processes (all their threads).
process_ticks() {
    local t=0 p f
    for p in "$@"; do
        # Fields 14 and 15 are utime and stime; our process names have no spaces.
        read -r -a f <"/proc/$p/stat" 2>/dev/null && t=$((t + f[13] + f[14]))
    done
    echo "$t"
}

# The processes of one server: nginx's master and workers, or streamverse.
server_pids() {
    if [[ $1 == nginx ]]; then
        echo "$nginx_pid" $(pgrep -P "$nginx_pid" 2>/dev/null)
    else
        echo "$sv_pid"
    fi
}

# run_wrk SERVER PORT LABEL DURATION: sets wrk_result to the WRK_RESULT fields
# (see files.lua), then cpu_server and cpu_other: the share of all CPUs that
# the server, and everything that is neither the server nor wrk, used during
# the run, in percent. Runs in this shell, so that die() ends the script.
run_wrk() {
    local server=$1 port=$2 label=$3 d=$4 out line pids
    local mb0 mt0 mb1 mt1 s0 s1 wu ws
    out=$tmp/wrk.$server.$label.out
    # shellcheck disable=SC2207  # pids are plain numbers
    pids=($(server_pids "$server"))
    read -r mb0 mt0 < <(machine_ticks)
    s0=$(process_ticks "${pids[@]}")
    # wrk runs in the background so that a signal to this script is handled at
    # once (bash runs traps only between foreground commands, or during wait);
    # `time wait` then reports wrk's CPU, as a descendant reaped in that wait.
    local TIMEFORMAT='%3U %3S'
    timeout "$wrk_timeout" wrk -t"$threads" -c"$connections" -d"$d" \
        -s "$lua_script" "http://127.0.0.1:$port/" \
        -- "/media/$label/f" "$files_per_size" ".bin" >"$out" 2>&1 &
    wrk_pid=$!
    { time wait "$wrk_pid"; } 2>"$out.time" || true
    wrk_pid=
    read -r mb1 mt1 < <(machine_ticks)
    s1=$(process_ticks "${pids[@]}")
    read -r wu ws <"$out.time" || { wu=0; ws=0; }
    line=$(grep '^WRK_RESULT ' "$out" | tail -n 1) || true
    if [[ -z $line ]]; then
        cat "$out" >&2
        die "wrk against $server gave no result"
    fi
    wrk_result=${line#WRK_RESULT }
    read -r cpu_server cpu_other < <(awk -v b=$((mb1 - mb0)) -v t=$((mt1 - mt0)) \
        -v s=$((s1 - s0)) -v w="$(awk -v u="$wu" -v s="$ws" -v h="$clk_tck" \
        'BEGIN { print (u + s) * h }')" \
        'BEGIN { if (t <= 0) t = 1; o = b - s - w; if (o < 0) o = 0
                 printf "%.0f %.0f\n", 100 * s / t, 100 * o / t }')
}

check_alive() {
    local name=$1 pid=$2 log=$3
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "bench/http: $name died during the run; its log:" >&2
        cat "$log" >&2 || true
        exit 1
    fi
}

declare -A rps mbps p50 p99 errs cpus cpuo
for i in "${!size_labels[@]}"; do
    label=${size_labels[i]}
    for server in nginx streamverse; do
        if [[ $server == nginx ]]; then port=$nginx_port; else port=$sv_port; fi
        echo "measuring ${size_names[i]} on $server ..." >&2
        run_wrk "$server" "$port" "$label" "$warmup"
        run_wrk "$server" "$port" "$label" "$duration"
        read -r n dur_us bytes e_conn e_read e_write e_status e_timeout l50 l99 \
            <<<"$wrk_result"
        check_alive nginx "$nginx_pid" "$tmp/nginx/logs/error.log"
        check_alive streamverse "$sv_pid" "$tmp/streamverse.log"
        key=$label.$server
        rps[$key]=$(awk -v n="$n" -v d="$dur_us" 'BEGIN { printf "%.0f", n / (d / 1e6) }')
        # bytes per microsecond = MB (10^6 bytes) per second; headers included.
        mbps[$key]=$(awk -v b="$bytes" -v d="$dur_us" 'BEGIN { printf "%.1f", b / d }')
        p50[$key]=$(awk -v u="$l50" 'BEGIN { printf "%.2f", u / 1000 }')
        p99[$key]=$(awk -v u="$l99" 'BEGIN { printf "%.2f", u / 1000 }')
        e=
        ((e_conn)) && e+="connect $e_conn "
        ((e_read)) && e+="read $e_read "
        ((e_write)) && e+="write $e_write "
        ((e_status)) && e+="non-2xx $e_status "
        ((e_timeout)) && e+="timeout $e_timeout "
        errs[$key]=${e:-0}
        cpus[$key]=$cpu_server
        cpuo[$key]=$cpu_other
    done
done

# ---- report ----------------------------------------------------------------

cpu_model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
[[ -n $cpu_model ]] || cpu_model=unknown
git_rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $git_rev != unknown && -n $(git -C "$repo" status --porcelain -- src 2>/dev/null) ]]; then
    git_rev+=" (src/ modified)"
fi
sv_version=$( ("$sv_bin" --version 2>&1 || true) | head -n 1)
nginx_version=$("$nginx_bin" -v 2>&1 | sed 's/^nginx version: //')
wrk_version=$( (wrk -v 2>&1 || true) | awk 'NR == 1 { print $2 }')

echo
echo "StreamVerse HTTP file serving benchmark (bench/http)"
echo "date:     $started (start of the run)"
echo "machine:  $(nproc) CPUs, $cpu_model, Linux $(uname -r) $(uname -m)"
echo "before:   ${busy_before}% of the CPUs were busy in the second before the run"
echo "          (other work on the machine skews the figures; quiet is 0-5%)"
echo "software: $sv_version, git $git_rev; $nginx_version; wrk $wrk_version"
echo "settings: wrk -t$threads -c$connections -d$duration (after a $warmup warm-up),"
echo "          $workers workers in each server, $files_per_size distinct files per size,"
echo "          keep-alive on, sendfile on, access log off in both"
if [ -n "$nginx_ofc" ]; then
  echo "          open-file caches on in both (nginx: $nginx_ofc)"
else
  echo "          open-file cache: streamverse's default (1s), nginx's default (off);"
  echo "          BENCH_NGINX_OPEN_FILE_CACHE=1 turns nginx's on"
fi
echo "note:     wrk and the servers share these $(nproc) CPUs. That is the same for both"
echo "          servers, so the ratio is fair; the absolute figures are lower than"
echo "          with a load generator on its own cores."
echo
printf '| %-6s | %-11s | %10s | %8s | %6s | %6s | %6s | %6s | %-6s |\n' \
    size server requests/s MB/s "p50 ms" "p99 ms" "server" "other" errors
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' -------- ------------- ------------ ---------- \
    -------- -------- -------- -------- --------
for i in "${!size_labels[@]}"; do
    for server in nginx streamverse; do
        key=${size_labels[i]}.$server
        printf '| %-6s | %-11s | %10s | %8s | %6s | %6s | %5s%% | %5s%% | %-6s |\n' \
            "${size_names[i]}" "$server" "${rps[$key]}" "${mbps[$key]}" \
            "${p50[$key]}" "${p99[$key]}" "${cpus[$key]}" "${cpuo[$key]}" "${errs[$key]% }"
    done
done
echo
echo "MB = 10^6 bytes, response headers included. server: CPU the server used, other: CPU"
echo "used by anything but the server and wrk (other work on the machine, or stolen by the"
echo "hypervisor), both as a share of all $(nproc) CPUs during the measurement. A row with"
echo "other above 5-10% was disturbed. errors as counted by wrk."
echo
printf '| %-6s | %-17s | %-7s | %-6s |\n' size StreamVerse/nginx target result
printf '|%s|%s|%s|%s|\n' -------- ------------------- --------- --------
missed=0
for i in "${!size_labels[@]}"; do
    label=${size_labels[i]}
    ratio=$(awk -v s="${rps[$label.streamverse]}" -v n="${rps[$label.nginx]}" \
        'BEGIN { printf "%.2f", (n > 0 ? s / n : 0) }')
    if awk -v r="$ratio" -v t="${size_targets[i]}" 'BEGIN { exit !(r >= t) }'; then
        result=met
    else
        result=MISSED
        missed=$((missed + 1))
    fi
    printf '| %-6s | %-17s | %-7s | %-6s |\n' "${size_names[i]}" "${ratio}x" \
        ">= ${size_targets[i]}x" "$result"
done
echo
echo "ratio = StreamVerse requests/s / nginx requests/s (same URLs, same wrk settings)."
if ((missed)); then
    echo "$missed of ${#size_labels[@]} targets missed (figures only: exit status stays 0)."
else
    echo "all targets met."
fi
disturbed=
for key in "${!cpuo[@]}"; do
    ((cpuo[$key] > 10)) && disturbed+=" ${key%%.*}/${key#*.}"
done
if [[ -n $disturbed ]]; then
    echo "warning: other work used over 10% of the CPUs during:$disturbed; run again when the machine is quiet."
fi
if ((busy_before > 10)); then
    echo "warning: other work used ${busy_before}% of the CPUs before the run: run again when the machine is quiet."
fi
for key in "${!errs[@]}"; do
    if [[ ${errs[$key]} == *non-2xx* ]]; then
        echo "warning: ${key#*.} answered non-2xx responses for ${key%%.*} files: its figure is suspect."
    fi
done
exit 0
