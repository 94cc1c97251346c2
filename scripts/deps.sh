#!/usr/bin/env bash
# Installs every Debian package StreamVerse needs to build, run, test and
# benchmark, then the npm packages of the browser-player and manifest-parser
# oracles (tests/players). Idempotent: it only calls apt-get for what is
# missing, and runs `npm ci` only when tests/players/node_modules does not
# match package-lock.json, so a machine that has everything pays one dpkg
# query and one hash.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(
  # build
  build-essential clang pkg-config libclang-rt-14-dev clang-format
  libjansson-dev libsqlite3-dev libcurl4-openssl-dev libsodium-dev
  libavformat-dev libavcodec-dev libavutil-dev libavfilter-dev libswscale-dev
  libswresample-dev
  # run and test
  sqlite3 curl python3 ca-certificates procps iproute2
  # the media reference: test clips and ffprobe/ffmpeg as oracles
  ffmpeg
  # benchmarks: the peer, the load generator, GNU time (peak RSS)
  nginx wrk time
  # the browser-player oracles (tests/players): Debian's Chromium, driven
  # headless by playwright-core; it needs no X server and no chromium-driver
  chromium
)

missing=()
for p in "${debs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# Node.js and npm run the player and manifest oracles. They are checked by
# command, not by package: a machine may have them from another build of the
# nodejs package (one that bundles npm, and conflicts with Debian's npm).
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages: ${missing[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The npm packages of tests/players, exactly as package-lock.json pins them.
# node_modules/.lock-hash records the hash of the lock it was installed from.
# --ignore-scripts: none of them needs an install script, and playwright-core
# must never fetch a browser of its own (we drive /usr/bin/chromium).
players=tests/players
want=$(sha256sum "$players/package-lock.json" | cut -d' ' -f1)
have=$(cat "$players/node_modules/.lock-hash" 2>/dev/null || true)
if [ "$want" != "$have" ]; then
  echo "deps: npm ci in $players"
  rm -f "$players/node_modules/.lock-hash"
  (cd "$players" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 \
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" > "$players/node_modules/.lock-hash"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "deps: warning: node $(node --version) is older than 20, which playwright-core needs" >&2
fi
