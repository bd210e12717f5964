#!/usr/bin/env bash
# Runs the browser test (browser_test.mjs) on the Node that runs the test FHIR server, found by
# the rule of tests/fhir-server/install.sh: $CEPHALGIA_TEST_NODE if set; else `node` on PATH if
# it fits Medplum's engines (^22.18.0 || >=24.2.0); else the pinned Node in .tools/node. PATH is
# not changed. Fails in one line when none fits or playwright-core is not installed; the test is
# never skipped. Registered with ctest by tests/browser/CMakeLists.txt:
#   bash tests/browser/run.sh --cephalgia BUILD/bin/cephalgia --plugins BUILD/packs \
#        --artifacts BUILD/test-artifacts/browser
#   bash tests/browser/run.sh --print-node        the Node it would use
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
fail() { echo "browser test: FAILED: $*" >&2; exit 1; }

node_version() { "$1" -p 'process.versions.node' 2>/dev/null || true; }
node_fits() {
  local major minor
  IFS=. read -r major minor _ <<<"$1"
  [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || return 1
  ((major == 22 && minor >= 18)) || ((major == 24 && minor >= 2)) || ((major > 24))
}

node=""
if [[ -n ${CEPHALGIA_TEST_NODE:-} ]]; then
  node="$CEPHALGIA_TEST_NODE"
elif system_node="$(command -v node)" && node_fits "$(node_version "$system_node")"; then
  node="$system_node"
else
  node="$repo/.tools/node/bin/node"  # made by tests/fhir-server/install.sh
fi
version="$(node_version "$node")"
if ! node_fits "$version"; then
  if [[ -n ${CEPHALGIA_TEST_NODE:-} ]]; then
    fail "CEPHALGIA_TEST_NODE=$node is ${version:+v}${version:-not a runnable node}; it must be Node ^22.18.0 || >=24.2.0 (or unset it)"
  fi
  fail "no fitting Node.js (${node}: ${version:+v}${version:-not runnable}; needs ^22.18.0 || >=24.2.0); run: bash tests/fhir-server/install.sh"
fi

if [[ ${1:-} == --print-node ]]; then
  echo "$node"
  exit 0
fi
[[ -f $here/node_modules/playwright-core/package.json ]] ||
  fail "playwright-core is not installed in $here/node_modules; run: bash tests/browser/install.sh"
exec "$node" "$here/browser_test.mjs" "$@"
