#!/usr/bin/env bash
# Command 1 of the README: install what is missing, build (Release) and start the service on
# 127.0.0.1:8080 with the headache pack and embedded defaults. Extra arguments go to
# `cephalgia serve` (e.g. --port 9090).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh -DCEPHALGIA_BUILD_TESTS=OFF -DCEPHALGIA_BUILD_BENCHMARKS=OFF
exec build/bin/cephalgia serve "$@"
