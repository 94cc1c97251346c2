#!/usr/bin/env bash
# The `streamverse` command: subcommands, options, configuration precedence,
# users, migrations, and the job queue across processes (queue from the CLI,
# run by `streamverse worker`, visible in the database).
set -u
BIN=${SV_BIN:?SV_BIN must name the streamverse binary}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$tmp"; }
trap cleanup EXIT
n=0; failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; [ -n "${2:-}" ] && printf '%s\n' "$2" | head -20 | sed 's/^/# /'; }
check() { # check NAME COMMAND...
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then ok "$name"; else nok "$name" "$out"; fi
}
sanitizer_clean() { ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1"; }

# version and help
check "--version prints the version" bash -c "'$BIN' --version | grep -qE '^streamverse [0-9]+\.[0-9]+\.[0-9]+$'"
for c in serve worker migrate user config job; do
  check "$c --help describes the command" bash -c "'$BIN' $c --help | grep -q 'usage: streamverse $c'"
done
check "no command is a usage error (exit 2)" bash -c "'$BIN' >/dev/null 2>&1; [ \$? -eq 2 ]"
out=$("$BIN" frobnicate 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "unknown command 'frobnicate'" && ok "unknown command is a usage error (exit 2)" \
  || nok "unknown command is a usage error (exit 2)" "$out (exit $rc)"
check "unknown option names the option" bash -c "'$BIN' config --no-such-key 1 2>&1 | grep -q 'unknown option --no-such-key'"
check "bad value names the key" bash -c "'$BIN' config --workers lots 2>&1 | grep -q 'workers'"

# configuration: file < environment < flags, and `config` output parses back
cat > "$tmp/sv.conf" <<CONF
listen = 127.0.0.1:1111
http_header_timeout = 7s
workers = 3
CONF
out=$("$BIN" config --config "$tmp/sv.conf")
echo "$out" | grep -q '^listen = "\?127.0.0.1:1111' && echo "$out" | grep -qE '^http_header_timeout = "?7s' \
  && ok "config file values are in effect" || nok "config file values are in effect" "$out"
out=$(STREAMVERSE_WORKERS=5 "$BIN" config --config "$tmp/sv.conf")
echo "$out" | grep -qE '^workers = "?5' && ok "environment overrides the file" || nok "environment overrides the file" "$(echo "$out" | grep workers)"
out=$(STREAMVERSE_WORKERS=5 "$BIN" config --config "$tmp/sv.conf" --workers 6)
echo "$out" | grep -qE '^workers = "?6' && ok "flags override the environment" || nok "flags override the environment" "$(echo "$out" | grep workers)"
"$BIN" config --workers 6 --data "$tmp/d" > "$tmp/full.conf"
out=$("$BIN" config --config "$tmp/full.conf")
[ "$out" = "$(cat "$tmp/full.conf")" ] && ok "config output loads back to the same configuration" \
  || nok "config output loads back to the same configuration" "$(diff <(echo "$out") "$tmp/full.conf")"
echo "bogus_key = 1" > "$tmp/bad.conf"
out=$("$BIN" config --config "$tmp/bad.conf" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -q "bad.conf:1" && ok "a bad config file is refused with file and line" \
  || nok "a bad config file is refused with file and line" "$out (exit $rc)"

# docs/CONFIG.md is generated from the key table and must be current
doc=$(cd "$(dirname "$0")/../.." && pwd)/docs/CONFIG.md
if [ -f "$doc" ] && diff <(sed -n '/^```ini$/,/^```$/p' "$doc" | sed '1d;$d') <(env -u STREAMVERSE_ARENA_MALLOC "$BIN" config --data ./data) >/dev/null; then
  ok "docs/CONFIG.md matches the key table (scripts/gen-config-doc.sh)"
else
  nok "docs/CONFIG.md matches the key table (scripts/gen-config-doc.sh)" "regenerate it with scripts/gen-config-doc.sh"
fi

# migrations
d=$tmp/data
check "migrate creates the database" "$BIN" migrate --data "$d" --log-level warn
out=$("$BIN" migrate --status --data "$d")
echo "$out" | grep -q "applied" && ! echo "$out" | grep -q pending && ok "migrate --status lists every migration applied" \
  || nok "migrate --status lists every migration applied" "$out"
check "migrate is idempotent" "$BIN" migrate --data "$d" --log-level warn

# users
out=$(echo 'correct horse battery' | "$BIN" user create admin@example.com --role admin --data "$d" --log-level warn 2>&1)
echo "$out" | grep -q "created user .* <admin@example.com> with role admin" && ok "user create makes an admin from a stdin password" \
  || nok "user create makes an admin from a stdin password" "$out"
out=$(echo 'correct horse battery' | "$BIN" user create ADMIN@example.com --role admin --data "$d" --log-level warn 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -qi "already" && ok "a second user with the same email (any case) is refused" \
  || nok "a second user with the same email (any case) is refused" "$out (exit $rc)"
out=$("$BIN" user create x@example.com --role emperor --password longenough --data "$d" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -qi "role" && ok "an unknown role is refused, naming the role" || nok "an unknown role is refused, naming the role" "$out"
out=$("$BIN" user create y@example.com --role viewer --password short --data "$d" 2>&1); rc=$?
[ $rc -eq 2 ] && echo "$out" | grep -qi "password" && ok "a short password is refused, naming the password" || nok "a short password is refused, naming the password" "$out"
hash=$(sqlite3 "$d/streamverse.db" "select password_hash from users where email like 'admin@example.com'")
case $hash in '$argon2id$'*) ok "passwords are stored as Argon2id hashes" ;; *) nok "passwords are stored as Argon2id hashes" "$hash" ;; esac

# the job queue across processes: queue with the CLI, run by a worker
id=$("$BIN" job enqueue tmp.cleanup --payload '{"max_age_seconds":0}' --data "$d" --log-level warn)
[[ $id =~ ^[0-9]+$ ]] && ok "job enqueue prints the job id" || nok "job enqueue prints the job id" "$id"
touch "$d/tmp/stale-body"
"$BIN" worker --data "$d" --job-poll 100ms --log-level info > "$tmp/worker.log" 2>&1 &
wpid=$!; pids+=("$wpid")
state=""
for _ in $(seq 1 50); do
  state=$(sqlite3 "$d/streamverse.db" "select state from jobs where id=$id")
  [ "$state" = done ] && break
  sleep 0.1
done
[ "$state" = done ] && ok "a worker process runs the queued job to done" || nok "a worker process runs the queued job to done" "state=$state $(cat "$tmp/worker.log")"
[ ! -e "$d/tmp/stale-body" ] && ok "tmp.cleanup removed the stale spooled body" || nok "tmp.cleanup removed the stale spooled body"
kill -TERM "$wpid"; wait "$wpid"; rc=$?
[ $rc -eq 0 ] && ok "worker stops cleanly on SIGTERM" || nok "worker stops cleanly on SIGTERM" "exit $rc"
sanitizer_clean "$tmp/worker.log" && ok "worker ran without sanitizer reports" || nok "worker ran without sanitizer reports" "$(grep -A5 Sanitizer "$tmp/worker.log")"

echo "1..$n"
exit $failed
