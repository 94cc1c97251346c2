#!/usr/bin/env bash
# Installs every Debian package StreamVerse needs to build, run, test and
# benchmark. Idempotent: it only calls apt-get for what is missing, so a
# machine that has everything pays one dpkg query.
set -euo pipefail

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
)

missing=()
for p in "${debs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

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
