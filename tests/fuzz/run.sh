#!/usr/bin/env bash
# Replays every fuzz corpus, then fuzzes each harness for a while. Prints TAP.
#
#   tests/fuzz/run.sh short SECONDS   corpus replay + SECONDS of fuzzing per harness,
#                                     in a scratch corpus that is thrown away
#   tests/fuzz/run.sh long SECONDS    the same, but the working corpus in
#                                     build/fuzz/work/NAME is kept and grows across runs
#
# A harness is a built binary build/fuzz/fuzz_NAME (make V=fuzz) with a seed
# corpus in tests/fuzz/corpus/NAME/, and optionally a libFuzzer dictionary in
# tests/fuzz/fuzz_NAME.dict. The committed corpus is only ever read. Crashing
# inputs go to tests/fuzz/findings/ (gitignored); a "not ok" line names the file.
#
# Output: "ok N - replay NAME" and "ok N - fuzz NAME (Ss, X execs)" per harness,
# "not ok ..." on a finding, then "1..N". Exit status 1 if anything failed.
set -u
cd "$(dirname "$0")/../.."

usage() {
  echo "usage: $0 short|long SECONDS" >&2
  exit 2
}
[ $# -eq 2 ] || usage
mode=$1
secs=$2
case $mode in short | long) ;; *) usage ;; esac
case $secs in '' | *[!0-9]*) usage ;; esac
[ "$secs" -gt 0 ] || usage

# Paths are relative to the top directory so that messages are short.
bindir=build/fuzz
findings=tests/fuzz/findings
workroot=$bindir/work
logdir=$workroot/logs
mkdir -p "$findings" "$logdir"

# Fail on the first sanitizer report, as tests/run.sh does.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

n=0
failed=0

ok() {
  n=$((n + 1))
  echo "ok $n - $*"
}

not_ok() {
  n=$((n + 1))
  failed=$((failed + 1))
  echo "not ok $n - $*"
}

# Prints the tail of a log as TAP comments, so the reason shows in the summary.
show_log() {
  tail -n 25 "$1" | sed 's/^/# /'
  echo "# full log: $1"
}

# The input libFuzzer saved for a finding, from its log ("" if none).
artifact_of() {
  sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$1" | tail -n 1
}

harnesses=()
for bin in "$bindir"/fuzz_*; do
  [ -f "$bin" ] && [ -x "$bin" ] || continue
  harnesses+=("$bin")
done

if [ ${#harnesses[@]} -eq 0 ]; then
  echo "not ok 1 - no fuzz harnesses built"
  echo "1..1"
  exit 1
fi

for bin in "${harnesses[@]}"; do
  name=$(basename "$bin")
  name=${name#fuzz_}
  corpus=tests/fuzz/corpus/$name
  if [ ! -d "$corpus" ]; then
    echo "# skipping fuzz_$name: no seed corpus in $corpus/"
    continue
  fi
  dict=()
  [ -f "tests/fuzz/fuzz_$name.dict" ] && dict=("-dict=tests/fuzz/fuzz_$name.dict")
  common=(-artifact_prefix="$findings/$name-" -timeout=10 -rss_limit_mb=2048)

  # 1. Replay: every committed input once. Given files rather than a
  # directory, libFuzzer runs each one and writes nothing back.
  log=$logdir/$name.replay.log
  mapfile -t inputs < <(find "$corpus" -type f ! -name '.*' | sort)
  if [ ${#inputs[@]} -eq 0 ]; then
    not_ok "replay $name: $corpus/ is empty"
  elif "$bin" "${common[@]}" "${inputs[@]}" >"$log" 2>&1; then
    ok "replay $name"
  else
    culprit=$(sed -n 's/^Running: \(.*\)$/\1/p' "$log" | tail -n 1)
    not_ok "replay $name: ${culprit:-an input in $corpus/} fails"
    show_log "$log"
  fi

  # 2. Fuzz, in a working copy of the corpus.
  if [ "$mode" = long ]; then
    work=$workroot/$name # kept: what it learns is reused next time
  else
    work=$workroot/$name.short
    rm -rf "$work"
  fi
  mkdir -p "$work"
  cp -p -n "${inputs[@]}" "$work"/ 2>/dev/null
  log=$logdir/$name.fuzz.log
  start=$SECONDS
  "$bin" "${common[@]}" "${dict[@]}" -max_total_time="$secs" -print_final_stats=1 \
    "$work" >"$log" 2>&1
  rc=$?
  took=$((SECONDS - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  if [ $rc -eq 0 ]; then
    ok "fuzz $name (${took}s, ${execs:-0} execs)"
  else
    artifact=$(artifact_of "$log")
    not_ok "fuzz $name: exit $rc after ${took}s, input saved as ${artifact:-(none; see log)}"
    show_log "$log"
  fi
  [ "$mode" = short ] && rm -rf "$work"
done

if [ $n -eq 0 ]; then
  not_ok "no fuzz harness has a corpus in tests/fuzz/corpus/"
fi
echo "1..$n"
[ $failed -eq 0 ]
