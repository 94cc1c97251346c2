#!/usr/bin/env bash
# Runs every test that is built: unit tests and integration tests against the
# release build and the ASan+UBSan build, then the fuzz corpora replay and a
# short fuzzing run. Every test prints TAP lines ("ok N - name" / "not ok N -
# name"); this script counts them and ends with one line: "N passed, N failed".
# A test program that dies without reporting counts as one failure.
#
# Environment: TESTS_FILTER=regex runs only matching test files;
# TESTS_VARIANTS="rel san" chooses variants; FUZZ_SECONDS (default 15) per harness.
set -u
cd "$(dirname "$0")/.."
top=$(pwd)

passed=0
failed=0
failures=()
filter=${TESTS_FILTER:-.}
variants=${TESTS_VARIANTS:-rel san}
logdir=$top/build/test-logs
mkdir -p "$logdir"

# Sanitizer settings for the san variant (and fuzzers): fail on the first report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$top/tests/lsan.supp:print_suppressions=0}

# run_tap LABEL CMD...: runs one TAP-producing command and counts its results.
run_tap() {
  local label=$1; shift
  local log=$logdir/$(echo "$label" | tr '/ ' '__').log
  local start=$SECONDS
  "$@" >"$log" 2>&1
  local rc=$?
  local ok nok
  ok=$(grep -cE '^ok [0-9]+' "$log")
  nok=$(grep -cE '^not ok [0-9]+' "$log")
  passed=$((passed + ok))
  failed=$((failed + nok))
  if [ "$nok" -gt 0 ]; then
    while IFS= read -r line; do failures+=("$label: $line"); done < <(grep -E '^not ok' "$log")
  fi
  if [ $rc -ne 0 ] && [ "$nok" -eq 0 ]; then
    failed=$((failed + 1))
    failures+=("$label: exited with status $rc without reporting a failure (see $log)")
  fi
  if [ $rc -ne 0 ] || [ "$nok" -gt 0 ]; then
    echo "FAIL $label ($ok ok, $nok not ok, exit $rc, $((SECONDS - start))s) - log: $log"
    grep -E '^(not ok|#)' "$log" | head -40 | sed 's/^/    /'
    grep -E 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' "$log" | head -5 | sed 's/^/    /'
  else
    echo "ok   $label ($ok tests, $((SECONDS - start))s)"
  fi
}

for v in $variants; do
  case $v in
    rel) bdir=build ;;
    san) bdir=build/san ;;
    *) echo "unknown variant $v" >&2; exit 2 ;;
  esac
  if [ ! -x "$bdir/streamverse" ]; then
    echo "missing $bdir/streamverse: build it first (make, make san)" >&2
    failed=$((failed + 1)); failures+=("$v: not built"); continue
  fi
  for t in "$bdir"/tests/test_*; do
    [ -x "$t" ] || continue
    echo "$t" | grep -qE "$filter" || continue
    run_tap "$v/unit/$(basename "$t")" "$t"
  done
  for t in tests/integration/t_*; do
    [ -f "$t" ] || continue
    echo "$t" | grep -qE "$filter" || continue
    case $t in
      *.sh) run_tap "$v/integration/$(basename "$t")" env SV_BIN="$top/$bdir/streamverse" SV_VARIANT=$v bash "$t" ;;
      *.py) run_tap "$v/integration/$(basename "$t")" env SV_BIN="$top/$bdir/streamverse" SV_VARIANT=$v python3 "$t" ;;
    esac
  done
done

if echo "lint" | grep -qE "$filter" || [ "$filter" = "." ]; then
  run_tap "lint" bash scripts/lint.sh
fi

if [ -x tests/fuzz/run.sh ] || [ -f tests/fuzz/run.sh ]; then
  if echo "fuzz" | grep -qE "$filter" || [ "$filter" = "." ]; then
    run_tap "fuzz" bash tests/fuzz/run.sh short "${FUZZ_SECONDS:-15}"
  fi
fi

echo
if [ ${#failures[@]} -gt 0 ]; then
  echo "Failures:"
  printf '  %s\n' "${failures[@]}"
  echo
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
