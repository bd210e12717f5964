#!/usr/bin/env bash
# Benchmarks whose figures are in the README. Builds Release, then:
#   1. Google Benchmark programs (FHIR parse+index, headache evaluation, FHIR fetch concurrency,
#      auth/metrics/feedback costs);
#   2. the load benchmark: wrk against `cephalgia serve` (patient-view with full prefetch, the
#      ~10 KB golden case 217) and against a fixed-body server on the same Beast transport (the
#      ceiling), at 1 and 16 connections, with the server's RSS sampled before and after.
# Bounded: each wrk run lasts BENCH_SECONDS (default 10). Servers listen on 127.0.0.1 only and are
# stopped by their pid.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${BENCH_SECONDS:-10}
bash scripts/setup.sh --test >/dev/null
bash scripts/build.sh -DCEPHALGIA_BUILD_TESTS=ON -DCEPHALGIA_BUILD_BENCHMARKS=ON >/dev/null
bash tests/fhir-server/install.sh >/dev/null
b=build
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

if [[ "${BENCH_SKIP_MICRO:-0}" != 1 ]]; then
  echo "## Google Benchmark programs"
  for prog in $(find "$b/tests" -type f -executable -name '*_bench' | sort); do
    echo "### $(basename "$prog")"
    "$prog" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
      --benchmark_min_time=0.2 2>/dev/null | grep -E "_median|_mean" || true
  done
fi

echo "## Load benchmark (wrk, ${seconds}s per run)"
"$b/tests/bench/bench_tool" request tests/rules/cases/217-*.json > "$work/request.json"
echo "request body: $(wc -c < "$work/request.json") bytes"

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)); }

run_wrk() {  # url connections threads
  wrk -t"$3" -c"$2" -d"${seconds}s" --latency -s tests/bench/post_body.lua "$1" -- "$work/request.json" \
    | grep RESULT
}

bench_target() {  # name pid url
  local name=$1 pid=$2 url=$3
  run_wrk "$url" 4 1 >/dev/null  # warm-up
  local rss0; rss0=$(rss_kb "$pid")
  local r1; r1=$(run_wrk "$url" 1 1)
  local rss1; rss1=$(rss_kb "$pid")
  local r16; r16=$(run_wrk "$url" 16 2)
  local rss2; rss2=$(rss_kb "$pid")
  echo "| $name | 1 | $(sed -E 's/.*rps=([0-9.]+) p50_ms=([0-9.]+) p99_ms=([0-9.]+).*/\1 | \2 | \3/' <<<"$r1") | $(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$r1") | ${rss0} → ${rss1} |"
  echo "| $name | 16 | $(sed -E 's/.*rps=([0-9.]+) p50_ms=([0-9.]+) p99_ms=([0-9.]+).*/\1 | \2 | \3/' <<<"$r16") | $(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$r16") | ${rss1} → ${rss2} |"
}

threads=${BENCH_SERVER_THREADS:-$(nproc)}
echo "server threads: $threads; wrk shares the same $(nproc) cores"
echo
echo "| server | connections | requests/s | p50 ms | p99 ms | errors | RSS KiB (before → after) |"
echo "| --- | --- | --- | --- | --- | --- | --- |"

port=$(free_port)
"$b/bin/cephalgia" serve --port "$port" --threads "$threads" --data-dir "$work/data" \
  --now 2026-03-01T10:00:00Z 2>"$work/serve.log" &
pids+=($!); serve_pid=$!
for _ in $(seq 100); do grep -q '"listening"' "$work/serve.log" && break; sleep 0.1; done
curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary @"$work/request.json" \
  "http://127.0.0.1:$port/cds-services/headache-patient-view"
bench_target "cephalgia patient-view" "$serve_pid" "http://127.0.0.1:$port/cds-services/headache-patient-view"
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true

port=$(free_port)
"$b/tests/bench/bench_tool" ceiling-server "$port" "$threads" 2>"$work/ceiling.log" &
pids+=($!); ceiling_pid=$!
for _ in $(seq 100); do grep -q 'ceiling server' "$work/ceiling.log" && break; sleep 0.1; done
bench_target "fixed-body Beast ceiling" "$ceiling_pid" "http://127.0.0.1:$port/cds-services/x"
kill "$ceiling_pid"; wait "$ceiling_pid" 2>/dev/null || true
