#!/usr/bin/env bash
# Installs what Cephalgia needs from Debian 12 packages only. Run as root (or with sudo).
#   bash scripts/setup.sh          what building and serving need (the serve command)
#   bash scripts/setup.sh --test   that, plus what building and running the tests need (the test
#                                  command): GoogleTest, Google Benchmark, wrk, and npm, with
#                                  which tests/fhir-server/install.sh installs the test FHIR
#                                  server and, if the system's Node is missing or too old, a
#                                  pinned Node from the npm registry (never used by `serve`), and
#                                  Debian's chromium for the browser test (tests/browser), and
#                                  clang with libclang-rt-14-dev for the fuzz targets (tests/fuzz),
#                                  and postgresql-15 for the tests of the PostgreSQL store
# Idempotent: packages already installed are left alone, and apt-get runs only when something
# is missing.
set -euo pipefail

with_tests=0
case "${1:-}" in
  "") ;;
  --test) with_tests=1 ;;
  *) echo "usage: $0 [--test]" >&2; exit 2 ;;
esac

packages=(
  build-essential cmake pkg-config git ca-certificates
  rapidjson-dev libcurl4-openssl-dev libboost-dev libboost-system-dev
  libssl-dev openssl libsqlite3-dev
  # libpq (PostgreSQL client library): the feedback store for several replicas (CMakeLists.txt
  # finds it at configure time, so a fresh machine and the container build need it).
  libpq-dev
  # mimalloc: the malloc of the `cephalgia` executable (CEPHALGIA_ALLOCATOR, issue 14).
  libmimalloc-dev
  curl
)
test_packages=(
  libgtest-dev libgmock-dev libbenchmark-dev
  wrk
  # PostgreSQL 15 server binaries (/usr/lib/postgresql/15/bin/{initdb,postgres}): the store suite
  # and the scale-out test start their own server in a temporary directory (issue 15).
  postgresql-15
  # The browser test drives Debian's Chromium (/usr/bin/chromium) through playwright-core; the
  # DejaVu fonts make its screenshots and measured card heights the same on every machine.
  chromium fonts-dejavu-core
  # The fuzz targets (tests/fuzz, scripts/fuzz.sh): clang with libFuzzer and the sanitizer runtimes.
  clang libclang-rt-14-dev
  # The packaging stage (scripts/test-packaging.sh, issue 16): podman with runc, catatonit (the
  # pods' pause process) and iptables (the published port), debootstrap for the base image and the install root, debhelper and lintian
  # for the .deb, systemd-analyze, promtool (Debian's prometheus package) for `check metrics`,
  # python3-yaml to read the rendered Kubernetes manifests. kubectl is not installed: the stage
  # unpacks Debian's kubernetes-client into the build directory with apt-get download.
  podman runc catatonit iptables debootstrap debhelper lintian systemd prometheus python3 python3-yaml
)
# npm (it brings Debian's nodejs 18, which only runs npm itself) installs the test FHIR server's
# packages and the pinned Node that runs it; keep the machine's own npm if it has one.
if ! command -v npm >/dev/null 2>&1; then
  test_packages+=(npm)
fi
if ((with_tests)); then packages+=("${test_packages[@]}"); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi
