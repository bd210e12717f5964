#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer in build-fuzz/ (CEPHALGIA_FUZZ=ON) and runs them:
#   bash scripts/fuzz.sh                   every target, 30 s each
#   bash scripts/fuzz.sh TARGET [SECONDS]  one target (e.g. jwt, hook_request), 30 s by default
#   bash scripts/fuzz.sh all 600           every target, 10 minutes each
# Targets: hook_request fhir_readers jwt knowledge clinical_text http_handling fhir_client_urls.
# Needs clang and libclang-rt-14-dev (bash scripts/setup.sh --test installs them). The corpora
# grow in build-fuzz/fuzz-work/corpus/; a crash stops the target, prints the report and leaves
# its reproducer in build-fuzz/fuzz-work/artifacts/TARGET/ (add it to
# tests/fuzz/regressions/TARGET/ with the fix; the test command replays that directory).
# CEPHALGIA_FUZZ_BUILD_DIR changes the build directory; FUZZ_JOBS=N runs N processes a target.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-all}
seconds=${2:-30}
build_dir=${CEPHALGIA_FUZZ_BUILD_DIR:-build-fuzz}
all=(hook_request fhir_readers jwt knowledge clinical_text http_handling fhir_client_urls)
if [[ $target == all ]]; then targets=("${all[@]}"); else targets=("${target#fuzz_}"); fi
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "fuzz.sh: no target $t (${all[*]})" >&2; exit 2; }
done
if ! command -v clang++ >/dev/null 2>&1; then
  echo "fuzz.sh: clang++ is missing; run: bash scripts/setup.sh --test" >&2
  exit 1
fi
CC=clang CXX=clang++ cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCEPHALGIA_FUZZ=ON -DCEPHALGIA_BUILD_TESTS=OFF -DCEPHALGIA_BUILD_BENCHMARKS=OFF >/dev/null
cmake --build "$build_dir" -j"${CEPHALGIA_JOBS:-$(nproc)}" --target fuzz_all
export CEPHALGIA_FUZZ_WORK=$PWD/$build_dir/fuzz-work
export CEPHALGIA_FUZZ_SEED_TOOL=$PWD/$build_dir/tests/fuzz/fuzz_seed_tool
failed=()
for t in "${targets[@]}"; do
  bash tests/fuzz/run_target.sh fuzz "$t" "$build_dir/fuzz/fuzz_$t" "$seconds" || failed+=("$t")
done
if ((${#failed[@]})); then echo "fuzz.sh: FAILED: ${failed[*]}"; exit 1; fi
echo "fuzz.sh: ${#targets[@]} target(s), ${seconds}s each, no crash"
