#!/usr/bin/env bash
# Installs the npm dependencies of the test FHIR server (tests/fhir-server/node_modules), exactly
# as pinned in package-lock.json. Idempotent: does nothing when node_modules already matches the
# lock file. Run by the README's test command before ctest:
#   bash tests/fhir-server/install.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

if ! command -v node >/dev/null 2>&1; then
  echo "install.sh: 'node' not found. Install Node.js 20 or newer (Debian: apt-get install nodejs npm)." >&2
  exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "install.sh: 'npm' not found. Install npm (Debian: apt-get install npm)." >&2
  exit 1
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  echo "install.sh: Node.js $(node --version) is too old; the test FHIR server needs Node 20 or newer." >&2
  exit 1
fi

# The stamp records which lock file the installed tree came from; when it matches we skip npm
# (and the network) entirely.
stamp="node_modules/.cephalgia-lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d node_modules/@medplum/fhir-router ]; then
  echo "install.sh: test FHIR server dependencies are up to date."
  exit 0
fi

# Medplum 5.2.13 declares node >= 22 in "engines" but runs on Node 20 with
# --experimental-websocket; do not let an engine-strict user config refuse it.
npm ci --no-audit --no-fund --engine-strict=false --loglevel=error
echo "$want" > "$stamp"
echo "install.sh: test FHIR server dependencies installed in $here/node_modules."
