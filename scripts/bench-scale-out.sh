#!/usr/bin/env bash
# Load on two replicas sharing one PostgreSQL (issue 15; figures in README "Scaling out"):
#   - starts PostgreSQL 15 from Debian's packages in a temporary directory (as `nobody` when run
#     as root), on 127.0.0.1 and a free port, no unix socket;
#   - starts two `cephalgia serve` replicas on it (--store postgresql://...);
#   - drives both at once with wrk for BENCH_SECONDS (default 10) each: POST of golden case 217's
#     9.6 KB patient-view request with full prefetch, BENCH_CONNECTIONS (default 8) per replica;
#   - reports requests/s, p50/p99, errors, each replica's RSS before and after, the issued-card
#     backlog at the end of the load, and whether every card answered is in the database.
# Everything it starts is stopped by its pid. Needs a Release build (scripts/build.sh) in
# ${CEPHALGIA_BUILD_DIR:-build}, wrk and postgresql-15 (scripts/setup.sh --test).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${BENCH_SECONDS:-10}
connections=${BENCH_CONNECTIONS:-8}
b=${CEPHALGIA_BUILD_DIR:-build}
pg_bin=${CEPHALGIA_PG_BINDIR:-/usr/lib/postgresql/15/bin}
[[ -x $b/bin/cephalgia ]] || { echo "no $b/bin/cephalgia: run scripts/build.sh first" >&2; exit 2; }
[[ -x $pg_bin/postgres ]] || { echo "no $pg_bin/postgres: bash scripts/setup.sh --test" >&2; exit 2; }

work=$(mktemp -d /tmp/cephalgia-scale-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
as_db_user=()
if [[ $(id -u) -eq 0 ]]; then
  chown nobody:nogroup "$work"
  as_db_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi

# PostgreSQL: initdb, then the postmaster as our child (setpriv execs it: $! is its pid).
"${as_db_user[@]}" "$pg_bin/initdb" -D "$work/pg" -U cephalgia -A trust -E UTF8 --locale=C \
  --no-sync --no-instructions >"$work/initdb.log" 2>&1
pg_port=$(free_port)
"${as_db_user[@]}" "$pg_bin/postgres" -D "$work/pg" -p "$pg_port" -c listen_addresses=127.0.0.1 \
  -c unix_socket_directories= -c shared_buffers=64MB -c max_connections=60 \
  >"$work/postgres.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" && break
  sleep 0.1
done
store="postgresql://cephalgia@127.0.0.1:$pg_port/postgres"
psql() { "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U cephalgia -d postgres -Atc "$1"; }

python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["request"]))' \
  tests/rules/cases/217-*.json >"$work/request.json"

replica_pids=()
urls=()
for r in a b; do
  port=$(free_port)
  "$b/bin/cephalgia" serve --port "$port" --threads 1 --store "$store" \
    --now 2026-03-01T10:00:00Z 2>"$work/$r.log" &
  pids+=($!)
  replica_pids+=($!)
  urls+=("http://127.0.0.1:$port")
  for _ in $(seq 100); do grep -q '"listening"' "$work/$r.log" && break; sleep 0.1; done
done

run_wrk() {  # base-url
  wrk -t1 -c"$connections" -d"${seconds}s" --latency -s tests/bench/post_body.lua \
    "$1/cds-services/headache-patient-view" -- "$work/request.json" | grep RESULT
}
metric() {  # base-url name -> sum over series
  curl -sf "$1/metrics" | awk -v n="$2" '$1 == n || index($1, n "{") == 1 {s += $2} END {print s + 0}'
}

# Warm-up, then both replicas under load at once.
for u in "${urls[@]}"; do
  wrk -t1 -c2 -d2s -s tests/bench/post_body.lua "$u/cds-services/headache-patient-view" \
    -- "$work/request.json" >/dev/null
done
rss_before=("$(rss_kb "${replica_pids[0]}")" "$(rss_kb "${replica_pids[1]}")")
run_wrk "${urls[0]}" >"$work/wrk-a.txt" &
wa=$!
run_wrk "${urls[1]}" >"$work/wrk-b.txt" &
wb=$!
wait "$wa" "$wb"
queued_at_end=$(( $(metric "${urls[0]}" cephalgia_issued_cards_queued) + $(metric "${urls[1]}" cephalgia_issued_cards_queued) ))
rss_after=("$(rss_kb "${replica_pids[0]}")" "$(rss_kb "${replica_pids[1]}")")

echo "two replicas (1 I/O thread each) + PostgreSQL 15 + wrk on $(nproc) cores, ${seconds}s, $connections connections per replica"
echo
echo "| replica | requests/s | p50 ms | p99 ms | errors | RSS KiB before → after |"
echo "| --- | --- | --- | --- | --- | --- |"
i=0
for r in a b; do
  line=$(cat "$work/wrk-$r.txt")
  echo "| $r | $(sed -E 's/.*rps=([0-9.]+) p50_ms=([0-9.]+) p99_ms=([0-9.]+).*/\1 | \2 | \3/' <<<"$line") | $(sed -E 's/.*errors=([0-9]+).*/\1/' <<<"$line") | ${rss_before[$i]} → ${rss_after[$i]} |"
  i=$((i + 1))
done
sleep 1  # one group-commit linger and more
cards=$(( $(metric "${urls[0]}" cephalgia_cards_total) + $(metric "${urls[1]}" cephalgia_cards_total) ))
dropped=$(( $(metric "${urls[0]}" cephalgia_issued_cards_dropped_total) + $(metric "${urls[1]}" cephalgia_issued_cards_dropped_total) ))
on_disk=$(psql "SELECT COUNT(DISTINCT card_uuid) FROM issued_cards")
echo
echo "issued-card records queued when the load stopped: $queued_at_end; dropped: $dropped"
echo "cards answered (cephalgia_cards_total, both replicas): $cards; in PostgreSQL 1 s later: $on_disk"
