#!/usr/bin/env bash
# Installs what the browser test needs from npm, exactly as pinned: playwright-core
# (package-lock.json) into tests/browser/node_modules, with `npm ci` run by the Node that will run
# the test (run.sh picks it by the rule of tests/fhir-server/install.sh, which installs a fitting
# Node into .tools/node when the machine's does not fit; that installer runs first, as the ctest
# fixture fhir_server_deps). Never `playwright install`: the browser is Debian's chromium
# (bash scripts/setup.sh --test). Idempotent and offline once done (lock-file stamp). Serialised
# with flock. Run by ctest's fixture test browser_test_install:
#   bash tests/browser/install.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
fail() { echo "install.sh (browser test): $*" >&2; exit 1; }

command -v npm >/dev/null 2>&1 ||
  fail "'npm' not found; install it with: bash scripts/setup.sh --test (Debian: apt-get install npm)."
command -v flock >/dev/null 2>&1 || fail "'flock' not found (Debian: util-linux)."
node="$(bash "$here/run.sh" --print-node)" || exit 1
mkdir -p "$repo/.tools"
exec 9>"$repo/.tools/browser-install.lock"
flock 9

cd "$here"
stamp="node_modules/.cephalgia-lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ -f $stamp && $(cat "$stamp") == "$want" && -f node_modules/playwright-core/package.json ]]; then
  echo "install.sh (browser test): playwright-core is up to date (node: $node)."
  exit 0
fi
PATH="$(dirname "$node"):$PATH" npm ci --no-audit --no-fund --loglevel=error
echo "$want" >"$stamp"
echo "install.sh (browser test): playwright-core installed in $here/node_modules (node: $node)."
