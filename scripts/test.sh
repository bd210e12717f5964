#!/usr/bin/env bash
# Command 2 of the README (and all that .ci/run does): install what is missing (Debian packages for
# building and testing: scripts/setup.sh --test), build everything (Release, with tests and
# benchmarks), install the test FHIR server's npm packages and, if the machine's Node does not fit
# them, a pinned Node 22 into .tools/node (tests/fhir-server/install.sh), and run every test through
# ctest, whose summary line counts them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
bash scripts/build.sh -DCEPHALGIA_BUILD_TESTS=ON -DCEPHALGIA_BUILD_BENCHMARKS=ON
bash tests/fhir-server/install.sh
cd build
ctest --output-on-failure --timeout 600 -j"${CEPHALGIA_TEST_JOBS:-2}"
