#!/usr/bin/env bash
# Instructions per request of `cephalgia serve`, counted by callgrind over the whole process (every
# thread: transport, service, pack) for N keep-alive POSTs of one body, after a warm-up:
#   tests/bench/callgrind_per_request.sh BUILD_BIN_DIR PACK_DIR BODY.json [N] [SERVICE]
# Prints "instructions_per_request=<Ir/N> requests=N"; with CALLGRIND_KEEP=DIR the dump is copied
# there for callgrind_annotate. The server listens on 127.0.0.1 only and
# is stopped by its pid. Deterministic (unlike timings): compare builds with it.
set -euo pipefail
bin=$1 packs=$2 body=$3 n=${4:-300} service=${5:-headache-patient-view}
work=$(mktemp -d)
pid=
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
valgrind --tool=callgrind --callgrind-out-file="$work/cg.%p" --dump-instr=no \
  "$bin/cephalgia" serve --port "$port" --threads 1 --plugins "$packs" --data-dir "$work/data" \
  --now 2026-03-01T10:00:00Z 2>"$work/serve.log" &
pid=$!
for _ in $(seq 600); do grep -q '"listening"' "$work/serve.log" 2>/dev/null && break; sleep 0.1; done
post() {  # count
  python3 - "$port" "$body" "$1" "$service" <<'PY'
import http.client, sys
port, path, n, service = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
body = open(path, 'rb').read()
c = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
for _ in range(n):
    c.request('POST', '/cds-services/' + service, body, {'Content-Type': 'application/json'})
    r = c.getresponse(); r.read()
    if r.status != 200: sys.exit('status %d' % r.status)
PY
}
post 20
callgrind_control -z "$pid" >/dev/null 2>&1
post "$n"
callgrind_control -d "$pid" >/dev/null 2>&1
sleep 1
total=$(cat "$work"/cg.* | awk '/^summary:/ {s += $2} END {print s}')
echo "instructions_per_request=$((total / n)) requests=$n"
if [[ -n "${CALLGRIND_KEEP:-}" ]]; then mkdir -p "$CALLGRIND_KEEP" && cp "$work"/cg.*.* "$CALLGRIND_KEEP"/; fi
