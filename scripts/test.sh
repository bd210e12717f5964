#!/usr/bin/env bash
# Command 2 of the README (and all that .ci/run does): install what is missing (Debian packages for
# building and testing: scripts/setup.sh --test), build everything (Release, with tests and
# benchmarks), install the test FHIR server's npm packages and, if the machine's Node does not fit
# them, a pinned Node 22 into .tools/node (tests/fhir-server/install.sh), and run every test through
# ctest, whose summary line counts them.
#
# Then the sanitized run: the same tests again in build-asan, built with AddressSanitizer and
# UndefinedBehaviorSanitizer (CEPHALGIA_SANITIZE=ON, RelWithDebInfo so that reports have line
# numbers; no benchmarks), with leak detection on. Any report fails the run: ASan and LSan make the
# process exit non-zero, UBSan stops at the first report (-fno-sanitize-recover), and every report
# is written to build-asan/sanitizer-reports/ and printed. The processes the tests start
# (`cephalgia serve`, `cephalgia evaluate`, the packs they load) are the sanitized ones too. The
# tests matched by $sanitize_skip_labels and $sanitize_skip_tests are not run there.
# CEPHALGIA_TEST_SANITIZE=0 skips this run (for a quick local loop; CI always runs it).
#
# Last, the fuzz targets (tests/fuzz, built with clang in build-fuzz/): their seeds and crash
# reproducers replayed, then each fuzzed for 25 s (scripts/fuzz.sh runs them longer).
# CEPHALGIA_TEST_FUZZ=0 skips this part.
#
# Then the packaging stage (scripts/test-packaging.sh): image, .deb and Kubernetes manifests built
# and run. CEPHALGIA_TEST_PACKAGING=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
bash scripts/build.sh -DCEPHALGIA_BUILD_TESTS=ON -DCEPHALGIA_BUILD_BENCHMARKS=ON
bash tests/fhir-server/install.sh
jobs=${CEPHALGIA_TEST_JOBS:-2}
failed=0

echo "test.sh: the tests (build/)"
(cd build && ctest --output-on-failure --timeout 600 -j"$jobs") || failed=1

if [[ ${CEPHALGIA_TEST_SANITIZE:-1} != 0 ]]; then
  # Benchmarks and load tests measure speed and memory, which the sanitizers change by design; they
  # are not built or run there. hostile_traffic_test asserts a p99 latency and a resident-memory
  # bound (ASan's shadow memory and quarantine alone exceed it).
  sanitize_skip_labels='^(bench|load)$'
  sanitize_skip_tests='^(hostile_traffic_test)$'
  echo "test.sh: the same tests under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)"
  CEPHALGIA_BUILD_DIR=build-asan CEPHALGIA_BUILD_TYPE=RelWithDebInfo bash scripts/build.sh \
    -DCEPHALGIA_SANITIZE=ON -DCEPHALGIA_BUILD_TESTS=ON -DCEPHALGIA_BUILD_BENCHMARKS=OFF
  # Reports go to files, one per process that had one, so that those of the processes the tests
  # start (whose exit status a test may not look at, e.g. a leak found as `cephalgia serve` exits)
  # count as well; any file there fails the run, and each is printed below.
  reports="$PWD/build-asan/sanitizer-reports"
  rm -rf "$reports"
  mkdir -p "$reports"
  (
    cd build-asan
    export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1:log_path=$reports/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
    ctest --output-on-failure --timeout 1200 -j"$jobs" -LE "$sanitize_skip_labels" \
      -E "$sanitize_skip_tests"
  ) || failed=1
  for report in "$reports"/*; do
    [[ -e $report ]] || continue
    echo "test.sh: sanitizer report $report:"
    cat "$report"
    failed=1
  done
fi

if [[ ${CEPHALGIA_TEST_FUZZ:-1} != 0 ]]; then
  # The fuzz targets (tests/fuzz): built with clang, libFuzzer, ASan and UBSan in build-fuzz/;
  # every checked-in seed and crash reproducer replayed once, then each target fuzzed for
  # CEPHALGIA_FUZZ_TEST_SECONDS (25 s) from its seeds, two at a time. Any crash, leak, timeout or
  # UBSan report fails the run and prints the report. CEPHALGIA_TEST_FUZZ=0 skips this part.
  echo "test.sh: the fuzz targets and their crash reproducers (build-fuzz/)"
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCEPHALGIA_FUZZ=ON -DCEPHALGIA_BUILD_TESTS=OFF -DCEPHALGIA_BUILD_BENCHMARKS=OFF \
    -DCEPHALGIA_FUZZ_TEST_SECONDS="${CEPHALGIA_FUZZ_TEST_SECONDS:-25}" >/dev/null
  cmake --build build-fuzz -j"${CEPHALGIA_JOBS:-$(nproc)}" --target fuzz_all
  (cd build-fuzz && ctest --output-on-failure -j"$jobs" -L fuzz) || failed=1
fi
if [[ ${CEPHALGIA_TEST_PACKAGING:-1} != 0 ]]; then
  # The packaging stage (issue 16): the container image and the .deb built with
  # scripts/package.sh (each compiles the service once, without tests), then run as an operator
  # would: the .deb installed into a debootstrap'ed Debian 12 root and started from its unit's
  # command line, the image run read-only with podman, the SQLite Kubernetes overlay run with
  # `podman kube play`. Under build-package/ (the debootstrap tarball is kept there between runs).
  # CEPHALGIA_TEST_PACKAGING=0 skips it.
  echo "test.sh: the packaging stage (build-package/)"
  bash scripts/test-packaging.sh || failed=1
fi
exit "$failed"
