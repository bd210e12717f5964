#!/usr/bin/env bash
# The packaging stage of scripts/test.sh (issue 16): builds the image and the .deb with
# scripts/package.sh, then runs each the way an operator would and checks that it answers.
#
#   Debian package   lintian (no errors); systemd-analyze verify of the unit; installed with apt
#                    into a debootstrap'ed Debian 12 root (never into this machine), then the unit's
#                    own ExecStart and Environment run there as an unprivileged user, as systemd's
#                    DynamicUser would (no systemd runs here): discovery, a hook call with cards,
#                    an audit line, a clean exit on SIGTERM.
#   Container image  podman run read-only, as its numeric non-root user, with a data volume:
#                    HEALTHCHECK passes, discovery and a hook call through the published port,
#                    SIGTERM as PID 1 drains and exits 0.
#   Kubernetes       both overlays rendered with Debian 12's kubectl (1.20, its kustomize) and
#                    checked (probes, security context, PDB, replicas, the Secret reference); each
#                    run with `podman kube play`, then `podman kube down`. SQLite: discovery and a
#                    hook call through the pod's published port. PostgreSQL: a PostgreSQL 15 of
#                    our own (Debian's initdb/postgres as `nobody`, data under /tmp, 127.0.0.1 on
#                    a free port, no unix socket) and the Secret the overlay reads (a podman
#                    secret); the pod on the host's network (one replica, its own free port on
#                    127.0.0.1): /readyz, discovery, a hook call with cards, the log's "store
#                    postgresql" and the issued card's row in PostgreSQL; PostgreSQL stopped.
#
# Everything runs under $CEPHALGIA_PACKAGE_DIR (default build-package/): podman's private
# configuration and storage (a run with another directory, as CI's in its own clone, never sees
# these pods, secrets and volumes), the cached debootstrap tarball, the chroot; only PostgreSQL's
# data directory is a mktemp one under /tmp.
# Every container, pod, secret, volume and process started here is stopped and removed by its
# own name or pid on exit.
# Tools missing: under CI=true that is a failure, elsewhere the stage is skipped with a message.
# Podman's complaints that no systemd runs here to time the health checks go to the logs under
# $CEPHALGIA_PACKAGE_DIR/test (the checks themselves are run with `podman healthcheck run`).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export CEPHALGIA_PACKAGE_DIR=${CEPHALGIA_PACKAGE_DIR:-$repo/build-package}
# shellcheck source=package.sh
source "$repo/scripts/package.sh"
work=$package_dir/test
rm -rf "$work"
mkdir -p "$work"
started=$(date +%s)
say() { echo "test-packaging: $*"; }
fail() {
  say "FAIL: $*"
  exit 1
}
stamp() { say "$1 ($(($(date +%s) - started)) s)"; }

missing=()
for tool in podman runc catatonit debootstrap dpkg-buildpackage dh lintian systemd-analyze python3 \
  curl apt-get chroot; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
python3 -c 'import yaml' 2>/dev/null || missing+=(python3-yaml)
# PostgreSQL 15 for the postgresql overlay's pod (Debian's postgresql-15 and its client).
pg_bin=/usr/lib/postgresql/15/bin
for tool in initdb postgres pg_isready psql; do
  [[ -x $pg_bin/$tool ]] || missing+=("$pg_bin/$tool")
done
if ((${#missing[@]})); then
  if [[ ${CI:-} == true ]]; then fail "missing ${missing[*]} (bash scripts/setup.sh --test)"; fi
  say "SKIPPED: missing ${missing[*]} (bash scripts/setup.sh --test installs them)"
  exit 0
fi

# Names of what this run creates, so cleanup removes exactly these.
suffix=$$
container=cephalgia-test-$suffix
volume=cephalgia-test-data-$suffix
chroot_pid=
chroot_root=$work/root
kube_yaml=
pg_pid=
pg_dir=
pg_secret=
cleanup() {
  set +e
  if [[ -n $chroot_pid ]] && kill -0 "$chroot_pid" 2>/dev/null; then
    kill -TERM "$chroot_pid"
    sleep 2
    kill -KILL "$chroot_pid" 2>/dev/null
  fi
  podman rm -f -t 5 "$container" >/dev/null 2>&1
  podman volume rm -f "$volume" >/dev/null 2>&1
  if [[ -n $kube_yaml ]]; then
    podman kube down "$kube_yaml" >/dev/null 2>&1
    podman volume rm -f cephalgia-data >/dev/null 2>&1
  fi
  [[ -n $pg_secret ]] && podman secret rm "$pg_secret" >/dev/null 2>&1
  if [[ -n $pg_pid ]] && kill -0 "$pg_pid" 2>/dev/null; then
    kill -INT "$pg_pid" # fast shutdown
    for _ in $(seq 50); do kill -0 "$pg_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pg_pid" 2>/dev/null
  fi
  [[ -n $pg_dir ]] && rm -rf "$pg_dir"
  for m in dev/pts dev proc; do
    mountpoint -q "$chroot_root/$m" 2>/dev/null && umount -l "$chroot_root/$m"
  done
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
request=$work/request.json
python3 - "$repo/tests/rules/cases/001-thunderclap-snomed.json" >"$request" <<'PY'
import json, sys
print(json.dumps(json.load(open(sys.argv[1]))["request"]))
PY
# Discovery lists the headache services; a patient-view call answers the thunderclap red flag.
check_service() {
  local base=$1 what=$2
  local discovery
  discovery=$(curl -fsS --max-time 10 "$base/cds-services") || fail "$what: discovery did not answer"
  grep -q '"headache-patient-view"' <<<"$discovery" || fail "$what: discovery lacks headache-patient-view"
  local cards
  cards=$(curl -fsS --max-time 20 -H 'Content-Type: application/json' \
    -H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' \
    --data-binary @"$request" "$base/cds-services/headache-patient-view") ||
    fail "$what: the hook call failed"
  grep -q '"thunderclap_onset"' <<<"$cards" || fail "$what: no thunderclap card in: ${cards:0:400}"
  say "$what: discovery and a hook call with cards"
}
wait_for() {
  local url=$1
  for _ in $(seq 1 100); do
    curl -fsS --max-time 2 "$url" >/dev/null 2>&1 && return 0
    sleep 0.3
  done
  return 1
}

# ---- build ----
podman_private_env
# CEPHALGIA_PACKAGING_REUSE=1 (local iterations only) checks the image and .deb already built.
if [[ ${CEPHALGIA_PACKAGING_REUSE:-0} == 1 ]] && podman image exists localhost/cephalgia:latest &&
  compgen -G "$package_dir/cephalgia_*.deb" >/dev/null; then
  say "reusing the image and .deb already built"
else
  build_image
  stamp "image built"
  build_deb
  stamp "deb built"
fi
deb=$(ls "$package_dir"/cephalgia_*.deb)

# ---- the Debian package ----
lintian --fail-on error --tag-display-limit 0 "$deb" >"$work/lintian.txt" 2>&1 ||
  { cat "$work/lintian.txt"; fail "lintian reports errors"; }
say "lintian: no errors ($(grep -c '^W:' "$work/lintian.txt" || true) warnings)"
# The unit as installed, with the binary it names.
mkdir -p "$chroot_root"
tar -C "$chroot_root" -xf "$(minbase_tarball)"
cp /etc/resolv.conf "$chroot_root/etc/resolv.conf"
cp "$deb" "$chroot_root/tmp/"
mount -t proc proc "$chroot_root/proc"
chroot "$chroot_root" env DEBIAN_FRONTEND=noninteractive sh -c \
  "apt-get update -qq && apt-get install -y -qq --no-install-recommends systemd /tmp/$(basename "$deb")" \
  >"$work/apt-install.txt" 2>&1 || { tail -30 "$work/apt-install.txt"; fail "apt-get install of the .deb"; }
say "installed with apt-get into a Debian 12 root (with systemd, whose units verify reads)"
unit=$chroot_root/lib/systemd/system/cephalgia.service
[[ -f $unit ]] || fail "the package installs no cephalgia.service"
systemd-analyze --root="$chroot_root" verify /lib/systemd/system/cephalgia.service >"$work/verify.txt" 2>&1 ||
  { cat "$work/verify.txt"; fail "systemd-analyze verify"; }
[[ ! -s $work/verify.txt ]] || { cat "$work/verify.txt"; fail "systemd-analyze verify printed warnings"; }
for setting in DynamicUser=yes StateDirectory=cephalgia ProtectSystem=strict NoNewPrivileges=yes \
  PrivateTmp=yes TimeoutStopSec=; do
  grep -q "^$setting" "$unit" || fail "the unit lacks $setting"
done
grep -q '^/etc/cephalgia/config.json$' "$chroot_root/var/lib/dpkg/info/cephalgia.conffiles" ||
  fail "/etc/cephalgia/config.json is not a conffile"
say "systemd-analyze verify: clean; hardening settings and conffile present"
# Run the unit's command line as systemd would: its Environment=, a fresh unprivileged uid
# (DynamicUser), StateDirectory and LogsDirectory owned by it. The port comes from the
# environment, over the config file's 8080 (flag > environment > file).
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
unit_env=$(sed -n 's/^Environment=//p' "$unit")
port=$(free_port)
install -d -o 61234 -g 61234 -m 0750 "$chroot_root/var/lib/cephalgia" "$chroot_root/var/log/cephalgia"
# shellcheck disable=SC2086
chroot --userspec=61234:61234 --groups=61234 "$chroot_root" env -i PATH=/usr/bin:/bin $unit_env \
  CEPHALGIA_PORT="$port" CEPHALGIA_NOW=2026-03-01T10:00:00Z $exec_start >"$work/deb-serve.log" 2>&1 &
chroot_pid=$!
wait_for "http://127.0.0.1:$port/livez" || { cat "$work/deb-serve.log"; fail "the installed service did not start"; }
check_service "http://127.0.0.1:$port" "deb"
grep -q '"resourceType":"AuditEvent"' "$chroot_root/var/log/cephalgia/audit.jsonl" ||
  fail "deb: no audit event in /var/log/cephalgia/audit.jsonl"
kill -TERM "$chroot_pid"
wait "$chroot_pid" || { cat "$work/deb-serve.log"; fail "deb: the service did not exit 0 on SIGTERM"; }
chroot_pid=
umount "$chroot_root/proc"
stamp "deb: installed, ran from its unit's command line, stopped"

# ---- the container image ----
[[ $(podman image inspect --format '{{.Config.User}}' localhost/cephalgia:latest) == 10001:10001 ]] ||
  fail "the image does not run as 10001:10001"
port=$(free_port)
podman volume create "$volume" >/dev/null
podman run -d --name "$container" --read-only --tmpfs /tmp -v "$volume:/var/lib/cephalgia" \
  -p "127.0.0.1:$port:8080" -e CEPHALGIA_NOW=2026-03-01T10:00:00Z localhost/cephalgia:latest \
  >/dev/null 2>"$work/podman-run.txt" || { cat "$work/podman-run.txt"; fail "podman run"; }
wait_for "http://127.0.0.1:$port/livez" || { podman logs "$container" | tail -20; fail "the container did not start"; }
podman healthcheck run "$container" || fail "the image's HEALTHCHECK fails"
check_service "http://127.0.0.1:$port" "container"
podman exec "$container" test -s /var/lib/cephalgia/audit.jsonl || fail "container: no audit trail in the volume"
podman stop -t 30 "$container" >/dev/null 2>>"$work/podman-run.txt"
[[ $(podman inspect --format '{{.State.ExitCode}}' "$container") == 0 ]] ||
  { podman logs "$container" | tail -20; fail "container: SIGTERM to PID 1 did not exit 0"; }
# To a file first: `grep -q` stops reading early, and under pipefail podman's broken pipe fails.
podman logs "$container" >"$work/container.log" 2>&1
grep -q 'drained and stopped' "$work/container.log" || fail "container: no drain on SIGTERM"
podman rm "$container" >/dev/null 2>>"$work/podman-run.txt"
podman volume rm "$volume" >/dev/null
stamp "container: read-only, non-root, healthy, answered, drained on SIGTERM"

# ---- Kubernetes ----
# Debian 12's kubectl (kubernetes-client), whatever else this machine has: the manifests must
# render with what a fresh Debian 12 gets.
kubectl=$package_dir/kubernetes-client/usr/bin/kubectl
if [[ ! -x $kubectl ]]; then
  (cd "$work" && apt-get download kubernetes-client >/dev/null 2>&1) || fail "apt-get download kubernetes-client"
  dpkg -x "$work"/kubernetes-client_*.deb "$package_dir/kubernetes-client"
fi
for overlay in sqlite postgresql; do
  "$kubectl" kustomize "deploy/kubernetes/overlays/$overlay" >"$work/$overlay.yaml" ||
    fail "kubectl kustomize deploy/kubernetes/overlays/$overlay"
done
python3 - "$work/sqlite.yaml" "$work/postgresql.yaml" <<'PY' || fail "the rendered manifests"
import sys, yaml
def check(path, replicas, store_from_secret):
    docs = {d["kind"]: d for d in yaml.safe_load_all(open(path)) if d}
    for kind in ("Deployment", "Service", "ConfigMap", "PodDisruptionBudget"):
        assert kind in docs, f"{path}: no {kind}"
    d = docs["Deployment"]["spec"]
    assert d["replicas"] == replicas, f"{path}: replicas {d['replicas']}"
    pod = d["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    c = pod["containers"][0]
    assert c["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    sc = c["securityContext"]
    assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
    assert "limits" in c["resources"] and "requests" in c["resources"]
    env = {e["name"]: e for e in c.get("env", [])}
    if store_from_secret:
        ref = env["CEPHALGIA_STORE"]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "cephalgia-postgresql" and ref["key"] == "url"
    else:
        assert "CEPHALGIA_STORE" not in env
        vols = {v["name"]: v for v in pod["volumes"]}
        assert vols["data"] == {"name": "data", "persistentVolumeClaim": {"claimName": "cephalgia-data"}}, vols["data"]
        assert "PersistentVolumeClaim" in docs
    sel = docs["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"]
    labels = d["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in sel.items()), "the PDB selects no pod"
check(sys.argv[1], 1, False)
check(sys.argv[2], 3, True)
PY
say "kubernetes: both overlays render with kubectl $("$kubectl" version --client --short 2>/dev/null | sed 's/.*: //') and pass the checks"
# Run the SQLite overlay as it is; only this machine's own choices are patched in: the pod's
# port published on 127.0.0.1 (podman kube play has no Service), and the fixed evaluation time.
port=$(free_port)
kube_yaml=$work/sqlite-play.yaml
python3 - "$work/sqlite.yaml" "$port" >"$kube_yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
for d in docs:
    if d["kind"] == "Deployment":
        c = d["spec"]["template"]["spec"]["containers"][0]
        c["ports"][0]["hostPort"] = int(sys.argv[2])
        c["ports"][0]["hostIP"] = "127.0.0.1"
    if d["kind"] == "ConfigMap":
        d["data"]["CEPHALGIA_NOW"] = "2026-03-01T10:00:00Z"
print(yaml.safe_dump_all(docs))
PY
# A pod or volume left by an earlier run that was killed (this storage is ours alone).
podman kube down "$kube_yaml" >/dev/null 2>&1 || true
podman volume rm -f cephalgia-data >/dev/null 2>&1 || true
podman kube play "$kube_yaml" >"$work/kube-play.txt" 2>&1 || { cat "$work/kube-play.txt"; fail "podman kube play"; }
wait_for "http://127.0.0.1:$port/livez" || {
  cat "$work/kube-play.txt"
  podman pod ps
  fail "the pod did not start"
}
curl -fsS --max-time 5 "http://127.0.0.1:$port/readyz" >/dev/null || fail "kube: /readyz"
[[ $(podman exec cephalgia-pod-0-cephalgia id -u) == 10001 ]] || fail "kube: the pod does not run as 10001"
podman exec cephalgia-pod-0-cephalgia sh -c 'touch /probe' 2>/dev/null && fail "kube: the root file system is writable"
check_service "http://127.0.0.1:$port" "kube (sqlite overlay)"
podman kube down "$kube_yaml" >/dev/null 2>>"$work/kube-play.txt"
podman volume rm -f cephalgia-data >/dev/null
kube_yaml=
stamp "kubernetes: podman kube play (sqlite overlay), answered, podman kube down"

# The PostgreSQL overlay, on a PostgreSQL 15 of our own: initdb and the postmaster as `nobody`
# when we run as root (as CI does), its data in a fresh directory under /tmp (which `nobody` can
# reach; this tree may not be), listening on 127.0.0.1 on a free port and on no unix socket.
pg_dir=$(mktemp -d /tmp/cephalgia-packaging-pg-XXXXXX)
as_db_user=()
if [[ $(id -u) -eq 0 ]]; then
  chown nobody:nogroup "$pg_dir"
  as_db_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
"${as_db_user[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U cephalgia -A trust -E UTF8 --locale=C \
  --no-sync --no-instructions >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log"; fail "initdb"; }
pg_port=$(free_port)
# setpriv execs the postmaster: $! is its pid.
"${as_db_user[@]}" "$pg_bin/postgres" -D "$pg_dir/data" -p "$pg_port" -c listen_addresses=127.0.0.1 \
  -c unix_socket_directories= -c fsync=off -c shared_buffers=32MB >"$work/postgres.log" 2>&1 &
pg_pid=$!
for _ in $(seq 100); do
  "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" && break
  kill -0 "$pg_pid" 2>/dev/null || { cat "$work/postgres.log"; fail "postgres did not start"; }
  sleep 0.1
done
"$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" || { cat "$work/postgres.log"; fail "postgres is not ready"; }
pg_psql() { "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U cephalgia -d postgres -Atc "$1"; }
stamp "postgresql 15 started on 127.0.0.1:$pg_port"
# The overlay as it is, plus the Secret it expects (the operator's part) and this machine's
# choices. The Secret is a podman secret of the same name, created before the play, holding what
# podman 4.3's secretKeyRef reads: a JSON object of base64 values ({"url": "..."}). A `kind:
# Secret` document in the played YAML is not usable with podman 4.3: kube play stores it as YAML,
# which its secretKeyRef then fails to parse as JSON ("secret ... is not valid JSON"); later
# podman reads both. So the overlay's secretKeyRef itself stays and is exercised. The machine's
# choices: the pod on the host's network to reach 127.0.0.1 (so it listens on a free port of
# ours, on 127.0.0.1 only, set through the ConfigMap's CEPHALGIA_PORT and CEPHALGIA_BIND; podman
# allows no port mappings there, so the container's ports list goes and the probes name that
# port by number; one replica, as they would share that port), and the fixed evaluation time.
port=$(free_port)
pg_secret=cephalgia-postgresql
kube_yaml=$work/postgresql-play.yaml
python3 - "$work/postgresql.yaml" "$port" "postgresql://cephalgia@127.0.0.1:$pg_port/postgres" \
  "$work/postgresql-secret.json" >"$kube_yaml" <<'PY'
import base64, json, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
port, url = int(sys.argv[2]), sys.argv[3]
for d in docs:
    if d["kind"] == "Deployment":
        pod = d["spec"]["template"]["spec"]
        pod["hostNetwork"] = True
        # podman kube play runs every replica; on the host's network they would share one port
        # (only the first binds it), so one here: the three replicas are checked as rendered.
        d["spec"]["replicas"] = 1
        c = pod["containers"][0]
        # podman refuses port mappings on the host's network: no ports list, the probes name the
        # port by number instead of "http".
        del c["ports"]
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            c[probe]["httpGet"]["port"] = port
    if d["kind"] == "ConfigMap":
        d["data"].update(CEPHALGIA_NOW="2026-03-01T10:00:00Z", CEPHALGIA_PORT=str(port),
                         CEPHALGIA_BIND="127.0.0.1")
json.dump({"url": base64.b64encode(url.encode()).decode()}, open(sys.argv[4], "w"))
print(yaml.safe_dump_all(docs))
PY
podman kube down "$kube_yaml" >/dev/null 2>&1 || true
podman secret rm "$pg_secret" >/dev/null 2>&1 || true
podman secret create "$pg_secret" "$work/postgresql-secret.json" >/dev/null
podman kube play "$kube_yaml" >"$work/kube-play-postgresql.txt" 2>&1 ||
  { cat "$work/kube-play-postgresql.txt"; fail "podman kube play (postgresql overlay)"; }
wait_for "http://127.0.0.1:$port/readyz" || {
  cat "$work/kube-play-postgresql.txt"
  podman pod ps
  podman logs cephalgia-pod-0-cephalgia 2>&1 | tail -20
  fail "the postgresql overlay's pod did not become ready"
}
check_service "http://127.0.0.1:$port" "kube (postgresql overlay)"
# Into a file first: `grep -q` leaving a pipe early would fail the pipeline under pipefail.
podman logs cephalgia-pod-0-cephalgia >"$work/pod-postgresql.log" 2>&1
grep -q '"event":"store","message":"postgresql ' "$work/pod-postgresql.log" ||
  { tail -20 "$work/pod-postgresql.log"; fail "kube (postgresql overlay): the store is not PostgreSQL"; }
# The cards issued are recorded in PostgreSQL (written behind the answer: wait for them).
issued=0
for _ in $(seq 50); do
  issued=$(pg_psql "SELECT count(*) FROM issued_cards" 2>/dev/null || echo 0)
  ((issued > 0)) && break
  sleep 0.1
done
((issued > 0)) || fail "kube (postgresql overlay): no issued card in PostgreSQL's issued_cards"
say "kube (postgresql overlay): store postgresql, $issued issued cards in PostgreSQL"
podman kube down "$kube_yaml" >/dev/null 2>>"$work/kube-play-postgresql.txt"
podman secret rm "$pg_secret" >/dev/null 2>>"$work/kube-play-postgresql.txt" || true
pg_secret=
kube_yaml=
kill -INT "$pg_pid"
wait "$pg_pid" || fail "postgres did not stop cleanly"
pg_pid=
rm -rf "$pg_dir"
pg_dir=
stamp "kubernetes: podman kube play (postgresql overlay on PostgreSQL 15), answered, podman kube down"
say "PASSED in $(($(date +%s) - started)) s"
