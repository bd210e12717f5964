#!/usr/bin/env bash
# Builds what operators install (issue 16), into $CEPHALGIA_PACKAGE_DIR (default build-package/):
#
#   bash scripts/package.sh          the container image and the Debian package
#   bash scripts/package.sh image    the image only: localhost/cephalgia:<version> and :latest,
#                                    also saved as cephalgia-image-<version>.tar (docker-archive,
#                                    which keeps the HEALTHCHECK; podman/docker load reads it)
#   bash scripts/package.sh deb      the .deb only (dpkg-buildpackage -us -uc -b on a copy of the
#                                    sources; the service and its packs, tests off)
#
# The image is built FROM $BASE_IMAGE. Without it, podman's debian:bookworm-slim is used when it
# has one; otherwise (no image registry reachable, as on the CI machine) an equivalent is built
# here: debootstrap --variant=minbase bookworm, kept as a tarball in the package directory so
# later runs reuse it, imported as localhost/cephalgia-base:bookworm.
#
# Podman runs with a private configuration written to the package directory (containers.conf,
# storage.conf, registries.conf: runc, cgroupfs, lowered ulimits, image storage under the package
# directory, no registry searched); the machine's own configuration is neither read nor changed.
# CEPHALGIA_PODMAN_PRIVATE=0 uses the machine's podman configuration instead (an operator who
# wants the image in their own store). Source this file to get the same podman environment
# (scripts/test-packaging.sh does).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
package_dir=${CEPHALGIA_PACKAGE_DIR:-$repo/build-package}
mkdir -p "$package_dir"
package_dir=$(cd "$package_dir" && pwd)
version=$(sed -n 's/^project(cephalgia VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
jobs=${CEPHALGIA_JOBS:-$(nproc)}
base_tag=localhost/cephalgia-base:bookworm

# The private podman configuration (exported, so every podman below and in a sourcing script
# uses it).
podman_private_env() {
  if [[ ${CEPHALGIA_PODMAN_PRIVATE:-1} == 0 ]]; then return; fi
  local conf=$package_dir/podman
  mkdir -p "$conf/storage" "$conf/run" "$conf/tmp" "$conf/cni"
  cat >"$conf/containers.conf" <<CONF
[containers]
# Limits a container may set without privileges this machine's root lacks (runc refuses to raise
# RLIMIT_NPROC above the caller's).
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
pids_limit = 2048
log_driver = "k8s-file"
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$conf/events.log"
tmp_dir = "$conf/tmp"
[network]
network_config_dir = "$conf/cni"
CONF
  cat >"$conf/storage.conf" <<CONF
[storage]
driver = "${CEPHALGIA_PODMAN_STORAGE_DRIVER:-overlay}"
graphroot = "$conf/storage"
runroot = "$conf/run"
CONF
  echo 'unqualified-search-registries = []' >"$conf/registries.conf"
  export CONTAINERS_CONF=$conf/containers.conf
  export CONTAINERS_STORAGE_CONF=$conf/storage.conf
  export CONTAINERS_REGISTRIES_CONF=$conf/registries.conf
}

# The base image: $BASE_IMAGE, else podman's debian:bookworm-slim, else debootstrap's.
base_image() {
  if [[ -n ${BASE_IMAGE:-} ]]; then echo "$BASE_IMAGE"; return; fi
  if podman image exists docker.io/library/debian:bookworm-slim 2>/dev/null; then
    echo docker.io/library/debian:bookworm-slim
    return
  fi
  if ! podman image exists "$base_tag"; then
    podman import --quiet "$(minbase_tarball)" "$base_tag" >/dev/null
  fi
  echo "$base_tag"
}

# A Debian 12 root file system as a tarball (debootstrap --variant=minbase bookworm, without
# package lists or caches, as debian:bookworm-slim), made once and kept in the package directory.
minbase_tarball() {
  local tarball=$package_dir/debian-bookworm-minbase.tar
  if [[ ! -s $tarball ]]; then
    echo "package.sh: debootstrap --variant=minbase bookworm" >&2
    local root=$package_dir/debootstrap-root
    rm -rf "$root"
    debootstrap --variant=minbase bookworm "$root" >"$package_dir/debootstrap.log" 2>&1 || {
      tail -20 "$package_dir/debootstrap.log" >&2
      return 1
    }
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
    tar -C "$root" -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
    rm -rf "$root"
  fi
  echo "$tarball"
}

build_image() {
  local base
  base=$(base_image)
  echo "package.sh: podman build FROM $base" >&2
  # Host networking for the build's apt-get: no bridge or port mapping is needed to reach the
  # package mirror.
  # Docker image format: the OCI format has no HEALTHCHECK.
  podman build --format docker --network host --build-arg BASE_IMAGE="$base" --build-arg BUILD_JOBS="$jobs" \
    -t "localhost/cephalgia:$version" -t localhost/cephalgia:latest -f "$repo/Containerfile" "$repo" \
    >"$package_dir/image-build.log" 2>&1 || {
    tail -40 "$package_dir/image-build.log" >&2
    return 1
  }
  rm -f "$package_dir/cephalgia-image-$version.tar"
  podman save --quiet --format docker-archive -o "$package_dir/cephalgia-image-$version.tar" \
    "localhost/cephalgia:$version"
  echo "package.sh: image localhost/cephalgia:$version ($package_dir/cephalgia-image-$version.tar)"
}

build_deb() {
  # dpkg-buildpackage writes into the source tree and its parent: build from a copy of the
  # sources (tracked and new files, not what .gitignore excludes).
  local src=$package_dir/deb-src/cephalgia-$version
  rm -rf "$package_dir/deb-src"
  mkdir -p "$src"
  # (--ignore-failed-read: a tracked file deleted in the work tree is left out.)
  (cd "$repo" && git ls-files -z --cached --others --exclude-standard |
    tar --null -T - --ignore-failed-read -cf - 2>/dev/null) | tar -C "$src" -xf -
  (cd "$src" && DEB_BUILD_OPTIONS="parallel=$jobs nocheck" dpkg-buildpackage -us -uc -b) \
    >"$package_dir/deb-build.log" 2>&1 || {
    tail -40 "$package_dir/deb-build.log" >&2
    return 1
  }
  rm -f "$package_dir"/cephalgia_*.deb
  mv "$package_dir"/deb-src/cephalgia_*.deb "$package_dir"/
  rm -rf "$package_dir/deb-src"
  echo "package.sh: $(ls "$package_dir"/cephalgia_*.deb)"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  what=${1:-all}
  case $what in
    all | image | deb) ;;
    *) echo "usage: $0 [all|image|deb]" >&2; exit 2 ;;
  esac
  if [[ $what != deb ]]; then
    podman_private_env
    build_image
  fi
  if [[ $what != image ]]; then build_deb; fi
fi
