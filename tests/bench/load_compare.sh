#!/usr/bin/env bash
# The load benchmark of issue 14, one run, one request, servers side by side: wrk against
#   - each `cephalgia serve` build named on the command line (LABEL=BIN_DIR:PACK_DIR), and
#   - the bare Beast transport answering a fixed body (bench_tool ceiling-server),
# at 1 and 16 connections; the server pinned to CPU 0 with one I/O thread, wrk to CPU 1.
# Prints one Markdown row per run: requests/s, p50, p99, errors, server CPU µs per request
# (utime+stime from /proc over the run, divided by the requests), and the load average.
#   tests/bench/load_compare.sh BENCH_TOOL BODY.json before=/old/bin:/old/packs after=build/bin:build/packs
# Servers listen on 127.0.0.1 only and are stopped by their pid.
set -euo pipefail
tool=$1 body=$2
shift 2
seconds=${BENCH_SECONDS:-10}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick_us=$((1000000 / $(getconf CLK_TCK)))

measure() {  # label url
  local label=$1 url=$2 c
  taskset -c 1 wrk -t1 -c4 -d2s -s "$here/post_body.lua" "$url" -- "$body" >/dev/null  # warm-up
  for c in 1 16; do
    local t0 t1 out
    t0=$(cpu_ticks "$pid")
    out=$(taskset -c 1 wrk -t1 -c"$c" -d"${seconds}s" --latency -s "$here/post_body.lua" "$url" -- "$body" | grep RESULT)
    t1=$(cpu_ticks "$pid")
    local requests rps p50 p99 errors
    requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$out")
    rps=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$out")
    p50=$(sed -E 's/.*p50_ms=([0-9.]+).*/\1/' <<<"$out")
    p99=$(sed -E 's/.*p99_ms=([0-9.]+).*/\1/' <<<"$out")
    errors=$(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$out")
    local cpu_us=$(( (t1 - t0) * tick_us / (requests > 0 ? requests : 1) ))
    echo "| $label | $c | $rps | $p50 | $p99 | $errors | $cpu_us | $(cut -d' ' -f1 /proc/loadavg) |"
  done
}

echo "| server | connections | requests/s | p50 ms | p99 ms | errors | CPU µs/request | load avg |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for spec in "$@"; do
  label=${spec%%=*} dirs=${spec#*=}
  bin=${dirs%%:*} packs=${dirs#*:}
  port=$(free_port)
  taskset -c 0 "$bin/cephalgia" serve --port "$port" --threads 1 --plugins "$packs" \
    --data-dir "$work/data-$label" --now 2026-03-01T10:00:00Z 2>"$work/$label.log" &
  pid=$!
  for _ in $(seq 100); do grep -qs '"listening"' "$work/$label.log" && break; sleep 0.1; done
  measure "cephalgia $label" "http://127.0.0.1:$port/cds-services/headache-patient-view"
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
done
port=$(free_port)
taskset -c 0 "$tool" ceiling-server "$port" 1 2>"$work/ceiling.log" &
pid=$!
for _ in $(seq 100); do grep -qs 'ceiling server' "$work/ceiling.log" && break; sleep 0.1; done
measure "fixed-body ceiling" "http://127.0.0.1:$port/cds-services/x"
