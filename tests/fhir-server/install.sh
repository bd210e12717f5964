#!/usr/bin/env bash
# Installs what the test FHIR server needs, exactly as pinned, and nothing outside the project:
#   1. a Node.js that fits Medplum's engines (^22.18.0 || >=24.2.0): the machine's `node` when it
#      fits, otherwise Node 22.23.3 from the npm registry (node-runtime/package-lock.json, the
#      per-architecture package that `npm install node@22.23.3` would fetch) into the git-ignored
#      prefix .tools/node at the top of the repository. $CEPHALGIA_TEST_NODE names a Node to use
#      instead of both. The tests find the same Node by the same rule
#      (tests/support/fhir_test_server.cc); nothing else uses it and PATH is not changed.
#   2. tests/fhir-server/node_modules from package-lock.json (`npm ci`, run by that Node).
# Needs npm (`bash scripts/setup.sh --test`). Idempotent and offline once done: lock-file stamps
# skip npm entirely. Serialised with flock, as concurrent test runs may call it at once. Run by the
# README's test command before ctest, and by ctest's fixture test fhir_test_server_install:
#   bash tests/fhir-server/install.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
tools="$repo/.tools/node"
pinned_node="$tools/bin/node"  # a link to node_modules/node-linux-<arch>/bin/node, made below
fail() { echo "install.sh: $*" >&2; exit 1; }

# Prints the version of Node $1 (without the "v"), or nothing if it does not run.
node_version() { "$1" -p 'process.versions.node' 2>/dev/null || true; }
# The rule of Medplum 5.2.13's "engines": ^22.18.0 || >=24.2.0.
node_fits() {
  local major minor
  IFS=. read -r major minor _ <<<"$1"
  [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || return 1
  ((major == 22 && minor >= 18)) || ((major == 24 && minor >= 2)) || ((major > 24))
}

command -v npm >/dev/null 2>&1 ||
  fail "'npm' not found; install it with: bash scripts/setup.sh --test (Debian: apt-get install npm)."
command -v flock >/dev/null 2>&1 || fail "'flock' not found (Debian: util-linux)."
mkdir -p "$repo/.tools"
exec 9>"$repo/.tools/install.lock"
flock 9

# 1. The Node that runs the server.
node=""
if [[ -n ${CEPHALGIA_TEST_NODE:-} ]]; then
  node="$CEPHALGIA_TEST_NODE"
  version="$(node_version "$node")"
  node_fits "$version" || fail "CEPHALGIA_TEST_NODE=$node is ${version:+v}${version:-not a runnable node}; the test FHIR server needs Node ^22.18.0 || >=24.2.0."
elif system_node="$(command -v node)" && node_fits "$(node_version "$system_node")"; then
  node="$system_node"
else
  stamp="$tools/.cephalgia-lock.sha256"
  want="$(sha256sum "$here/node-runtime/package-lock.json" | cut -d' ' -f1)"
  if ! { [[ -f $stamp && $(cat "$stamp") == "$want" ]] && [[ -x $pinned_node ]]; }; then
    echo "install.sh: the machine's node (${system_node:-none}$(
      [[ -n ${system_node:-} ]] && echo " v$(node_version "$system_node")")) does not fit; installing Node 22.23.3 into $tools"
    rm -f "$stamp"
    mkdir -p "$tools"
    cp "$here/node-runtime/package.json" "$here/node-runtime/package-lock.json" \
      "$here/node-runtime/.npmrc" "$tools/"
    (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
    # npm installs only the package of this machine's architecture. Debian's npm 9.2 makes no
    # node_modules/.bin/node for it, so we link the binary ourselves.
    binary="$(ls "$tools"/node_modules/node-linux-*/bin/node 2>/dev/null | head -n 1)"
    [[ -n $binary && -x $binary ]] ||
      fail "no pinned Node for $(uname -m) (node-runtime/package.json lists linux x64 and arm64); install Node ^22.18.0 || >=24.2.0 and set CEPHALGIA_TEST_NODE to it."
    mkdir -p "$tools/bin"
    ln -sfn "../${binary#"$tools/"}" "$pinned_node"
    echo "$want" >"$stamp"
  fi
  node="$pinned_node"
  version="$(node_version "$node")"
  node_fits "$version" || fail "$node is ${version:+v}${version:-not runnable}; the test FHIR server needs Node ^22.18.0 || >=24.2.0."
fi

# 2. The server's npm packages. The stamp records which lock file the installed tree came from;
# when it matches we skip npm (and the network) entirely.
cd "$here"
stamp="node_modules/.cephalgia-lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d node_modules/@medplum/fhir-router ]; then
  echo "install.sh: test FHIR server dependencies are up to date (node: $node v$(node_version "$node"))."
  exit 0
fi
# npm runs on the chosen Node (its launcher is `#!/usr/bin/env node`), so Medplum's engines are
# checked against the Node that will run the server, not against Debian's nodejs 18.
PATH="$(dirname "$node"):$PATH" npm ci --no-audit --no-fund --loglevel=error
echo "$want" > "$stamp"
echo "install.sh: test FHIR server dependencies installed in $here/node_modules (node: $node v$(node_version "$node"))."
