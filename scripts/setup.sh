#!/usr/bin/env bash
# Installs what Cephalgia needs to build, run and test, from Debian 12 packages only.
# Idempotent: packages already installed are left alone, and apt-get runs only when something
# is missing. Run as root (or with sudo available).
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates
  rapidjson-dev libcurl4-openssl-dev libboost-dev libboost-system-dev
  libssl-dev openssl libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  curl wrk
)
# The test FHIR server runs on Node.js; keep a newer Node if the machine already has one.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi
