#!/usr/bin/env bash
# Configures and builds Cephalgia in ./build (Release by default). Extra arguments are passed to
# the CMake configure step, e.g. -DCEPHALGIA_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${CEPHALGIA_BUILD_DIR:-build}
jobs=${CEPHALGIA_JOBS:-$(nproc)}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${CEPHALGIA_BUILD_TYPE:-Release}" "$@" >/dev/null
cmake --build "$build_dir" -j"$jobs" ${CEPHALGIA_BUILD_TARGETS:+--target $CEPHALGIA_BUILD_TARGETS}
