#!/usr/bin/env bash
# Command 1 of the README: install what is missing, build (Release) and start the service on
# 127.0.0.1:8080 with the headache pack and embedded defaults. Extra arguments go to
# `cephalgia serve` (e.g. --port 9090). Builds only the executable and the pack, in the same
# build tree as the test command, so switching between the two commands never reconfigures.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
CEPHALGIA_BUILD_TARGETS="cephalgia cephalgia_headache" bash scripts/build.sh
exec build/bin/cephalgia serve "$@"
