#!/usr/bin/env bash
# Static rules from STYLE.md, printed as TAP:
#  1. banned functions (strcpy, sprintf, atoi, strtok, ...) in src/ and tests/;
#  2. layers only include downward (DESIGN.md): base < net, store < media <
#     delivery < business < faces; libav headers only in media/, sqlite3.h and
#     libpq-fe.h only in store/;
#  3. source file names are unique across the tree;
#  4. clang-format has nothing to change in src/ (when clang-format is present).
set -u
cd "$(dirname "$0")/.."
n=0
fail=0
report() { # report OK|FAIL name [details]
  n=$((n + 1))
  if [ "$1" = OK ]; then
    echo "ok $n - $2"
  else
    echo "not ok $n - $2"
    [ -n "${3:-}" ] && printf '%s\n' "$3" | head -30 | sed 's/^/# /'
    fail=1
  fi
}

# 1. banned functions: unbounded copies and formatting, unchecked conversions.
banned='\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|atof|strtok|strncpy|stpcpy|wcscpy|tmpnam|mktemp)[[:space:]]*\('
hits=$(grep -rnE "$banned" src tests/unit tests/fuzz --include='*.c' --include='*.h' \
        | grep -vE '^\S+:[0-9]+:\s*(\*|//|/\*)' || true)
if [ -z "$hits" ]; then report OK "no banned functions"; else report FAIL "no banned functions" "$hits"; fi

# 2. layers.
layer_of() {
  case $1 in
    base) echo 0 ;;
    net|store) echo 1 ;;
    media) echo 2 ;;
    vod|live|linear|ads|mabr) echo 3 ;;
    accounts|catalog|commerce|analytics|creators|rec) echo 4 ;;
    api|cli|web) echo 5 ;;
    *) echo 99 ;;
  esac
}
bad=""
for f in $(find src -name '*.[ch]' | sort); do
  mod=$(echo "$f" | cut -d/ -f2)
  own=$(layer_of "$mod")
  [ "$own" = 99 ] && bad+="$f: module '$mod' has no layer in scripts/lint.sh"$'\n'
  while IFS= read -r inc; do
    dep=${inc%%/*}
    dl=$(layer_of "$dep")
    if [ "$dl" = 99 ]; then continue; fi
    if [ "$dl" -gt "$own" ]; then
      bad+="$f includes $inc: $mod (layer $own) may not use $dep (layer $dl)"$'\n'
    fi
  done < <(grep -oE '^#include "[a-z_]+/[a-z0-9_]+\.h"' "$f" | sed -E 's/#include "(.*)"/\1/')
  if [ "$mod" != media ] && grep -qE '^#include <lib(av|sw)[a-z]*/' "$f"; then
    bad+="$f: only media/ may include libav headers"$'\n'
  fi
  if [ "$mod" != store ] && grep -qE '^#include <(sqlite3|libpq-fe)\.h>' "$f"; then
    bad+="$f: only store/ may include database client headers"$'\n'
  fi
done
if [ -z "$bad" ]; then report OK "layers include only downward"; else report FAIL "layers include only downward" "$bad"; fi

# 3. unique file names.
dups=$(find src -name '*.[ch]' -printf '%f\n' | sort | uniq -d)
if [ -z "$dups" ]; then report OK "source file names are unique"; else report FAIL "source file names are unique" "$dups"; fi

# 4. formatting.
if command -v clang-format >/dev/null 2>&1; then
  unformatted=""
  for f in $(find src -name '*.[ch]' | sort); do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then unformatted+="$f"$'\n'; fi
  done
  if [ -z "$unformatted" ]; then report OK "clang-format is satisfied (make format)"
  else report FAIL "clang-format is satisfied (make format)" "$unformatted"; fi
fi

echo "1..$n"
exit $fail
