# bench/lib.sh: helpers shared by the media benchmarks (transcode, package,
# origin, ttfp). Sourced, never run. The caller sets bench_name (used in
# messages) before sourcing and keeps `set -euo pipefail`.
#
# Nothing here starts a process that outlives the call, except what the
# caller starts itself; cleanup (its trap) stays in each script.

# shellcheck shell=bash
# The helpers set variables for their caller (t_wall, p_codec...):
# shellcheck disable=SC2034

bench_die() {
    echo "bench/${bench_name:-?}: $*" >&2
    exit 1
}

bench_note() {
    echo "bench/${bench_name:-?}: $*" >&2
}

# bench_need TOOL...: fails unless every tool is on PATH.
bench_need() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || bench_die "$t not found (scripts/deps.sh installs it)"
    done
}

# bench_need_gnu_time: fails unless /usr/bin/time is GNU time (for -v).
bench_need_gnu_time() {
    local v=
    [[ -x /usr/bin/time ]] && v=$(/usr/bin/time --version 2>&1 || true)
    [[ $v == *GNU* ]] ||
        bench_die "GNU time (/usr/bin/time) not found (scripts/deps.sh installs the Debian package time)"
}

# bench_posint NAME VALUE: fails unless VALUE is a positive integer.
bench_posint() {
    [[ $2 =~ ^[1-9][0-9]*$ ]] || bench_die "$1 must be a positive integer, got '$2'"
}

# The configuration of the binary under test must be its defaults plus the
# flags each script passes, not whatever STREAMVERSE_* the caller exported.
bench_clear_streamverse_env() {
    local v
    for v in $(compgen -e); do
        [[ $v == STREAMVERSE_* ]] && unset "$v"
    done
    return 0
}

# Load average (1, 5, 15 min) as "a b c".
bench_loadavg() {
    awk '{ print $1, $2, $3 }' /proc/loadavg
}

# One line describing the machine.
bench_machine() {
    local cpu
    cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
    echo "$(nproc) CPUs, ${cpu:-unknown}, $(awk '/^MemTotal/ { printf "%.0f GB RAM", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r) $(uname -m)"
}

# Short git revision of the repository the script lives in.
bench_git_rev() {
    local repo=$1 rev
    rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
    echo "$rev"
}

# Seconds since the epoch, nanosecond resolution, as a decimal.
bench_now() {
    date +%s.%N
}

# bench_sub A B: B - A with millisecond precision.
bench_sub() {
    awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'
}

# bench_div A B [FORMAT]: A / B (0 when B is 0).
bench_div() {
    awk -v a="$1" -v b="$2" -v f="${3:-%.2f}" 'BEGIN { printf f, (b != 0 ? a / b : 0) }'
}

# bench_median V...: the median of the values.
bench_median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2];
              else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# bench_timed PREFIX CMD [ARG...]: runs CMD under GNU time -v with stdout in
# PREFIX.out, stderr in PREFIX.err and time's report in PREFIX.time. Sets
# t_wall (seconds, measured around the command with our own clock), t_rss_mb
# (peak resident set of the largest process, MB = 10^6 bytes) and t_cpu
# (user + system seconds of the command and its children). Returns CMD's
# status.
bench_timed() {
    local prefix=$1 rc=0 t0 t1 rss_kb user sys
    shift
    t0=$(bench_now)
    /usr/bin/time -v -o "$prefix.time" "$@" >"$prefix.out" 2>"$prefix.err" || rc=$?
    t1=$(bench_now)
    t_wall=$(bench_sub "$t0" "$t1")
    rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$prefix.time")
    user=$(awk -F': ' '/User time \(seconds\)/ { print $2 }' "$prefix.time")
    sys=$(awk -F': ' '/System time \(seconds\)/ { print $2 }' "$prefix.time")
    t_rss_mb=$(awk -v k="${rss_kb:-0}" 'BEGIN { printf "%.0f", k * 1024 / 1e6 }')
    t_cpu=$(awk -v u="${user:-0}" -v s="${sys:-0}" 'BEGIN { printf "%.2f", u + s }')
    return "$rc"
}

# bench_wall PREFIX CMD [ARG...]: like bench_timed, without GNU time: sets
# t_wall only.
bench_wall() {
    local prefix=$1 rc=0 t0 t1
    shift
    t0=$(bench_now)
    "$@" >"$prefix.out" 2>"$prefix.err" || rc=$?
    t1=$(bench_now)
    t_wall=$(bench_sub "$t0" "$t1")
    return "$rc"
}

# bench_decodes FILE_OR_URL: decodes every stream with `ffmpeg -v error`;
# fails (printing ffmpeg's complaints) when ffmpeg fails or reports any error.
bench_decodes() {
    local src=$1 log
    log=$(ffmpeg -nostdin -v error -i "$src" -map 0 -f null - 2>&1) || {
        echo "$log" >&2
        return 1
    }
    if [[ -n $log ]]; then
        echo "$log" >&2
        return 1
    fi
}

# bench_probe FILE [STREAM]: sets p_codec, p_width, p_height, p_packets,
# p_duration, p_rate (audio sample rate) and p_channels of one stream (an
# ffprobe stream specifier, default 0: the first), counting its packets
# without decoding them. A stream that ffprobe lists twice (in a program and
# on its own, as for HLS) counts once.
bench_probe() {
    local line
    line=$(ffprobe -v error -count_packets -select_streams "${2:-0}" \
        -show_entries stream=codec_name,width,height,nb_read_packets,duration,sample_rate,channels \
        -of default=noprint_wrappers=1 "$1") || return 1
    p_codec=$(awk -F= '$1 == "codec_name" { print $2; exit }' <<<"$line")
    p_width=$(awk -F= '$1 == "width" { print $2; exit }' <<<"$line")
    p_height=$(awk -F= '$1 == "height" { print $2; exit }' <<<"$line")
    p_packets=$(awk -F= '$1 == "nb_read_packets" { print $2; exit }' <<<"$line")
    p_duration=$(awk -F= '$1 == "duration" { print $2; exit }' <<<"$line")
    p_rate=$(awk -F= '$1 == "sample_rate" { print $2; exit }' <<<"$line")
    p_channels=$(awk -F= '$1 == "channels" { print $2; exit }' <<<"$line")
}

# bench_near A B TOLERANCE: true when |A - B| <= TOLERANCE.
bench_near() {
    awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t) }'
}

# ---- servers ----------------------------------------------------------------

# A loopback TCP port nobody listens on, outside the ephemeral range. Another
# process can still take it before our server binds: callers retry.
bench_pick_port() {
    local p _
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 12000))
        if command -v ss >/dev/null; then
            [[ -z $(ss -Htln "sport = :$p") ]] && { echo "$p"; return 0; }
        elif ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# bench_wait_http PID URL: waits until URL answers at all (any status) while
# PID lives; fails if PID exits or after 10 s.
bench_wait_http() {
    local pid=$1 url=$2 i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 1
        curl -s -o /dev/null --max-time 1 "$url" && return 0
        sleep 0.1
    done
    return 1
}

# bench_stop PID: SIGTERM, SIGKILL after 10 s, then reaps it.
bench_stop() {
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

# bench_libs BIN: the media libraries BIN loads (resolved paths), one line.
bench_libs() {
    ldd "$1" 2>/dev/null | awk '$1 ~ /^lib(avcodec|avformat|swscale|x264)\./ { printf "%s%s", sep, $3; sep = " " }'
}

# bench_quote WORD...: the words on one line, each single-quoted when it has
# characters a shell would interpret, so the line can be pasted.
bench_quote() {
    local a sep=
    for a in "$@"; do
        if [[ $a =~ ^[A-Za-z0-9_./:=+,%@-]+$ ]]; then
            printf '%s%s' "$sep" "$a"
        else
            printf "%s'%s'" "$sep" "${a//\'/\'\\\'\'}"
        fi
        sep=' '
    done
}
