#!/usr/bin/env bash
# Command 1 of the README: install what is missing (Debian packages for building and serving only:
# scripts/setup.sh without --test, so no Node.js or npm), build (Release) and start the service on
# 127.0.0.1:8080 with the headache pack and embedded defaults. Extra arguments go to
# `cephalgia serve` (e.g. --port 9090). Builds only the executable and the pack, in the same
# build tree as the test command, so switching between the two commands rebuilds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# A first configure here must not ask for the test libraries (GoogleTest, Google Benchmark), which
# this command does not install; a tree the test command configured keeps its settings.
configure=()
if [[ ! -f "${CEPHALGIA_BUILD_DIR:-build}/CMakeCache.txt" ]]; then
  configure=(-DCEPHALGIA_BUILD_TESTS=OFF -DCEPHALGIA_BUILD_BENCHMARKS=OFF)
fi
CEPHALGIA_BUILD_TARGETS="cephalgia cephalgia_headache" bash scripts/build.sh "${configure[@]}"
exec "${CEPHALGIA_BUILD_DIR:-build}/bin/cephalgia" serve "$@"
