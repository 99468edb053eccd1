#!/usr/bin/env bash
# What abuse costs everyone else (issue 9), against the real `flexmarket serve` on a
# fresh SQLite database:
# 1. GET /api/v1/me p99 at 64 keep-alive connections (wrk) while N event streams are
#    open (target: p99 <= 10 ms with 64 streams);
# 2. GET /api/v1/health latency from 127.0.0.1 while S slow clients on 127.0.0.2 trickle
#    one header byte every 8 s (target: every probe under 100 ms with 512 slow clients).
#
#   bench/abuse_bench.sh [path/to/flexmarket] [--streams 64] [--slow 512] [--duration 5s]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

bin=${1:-build/flexmarket}
shift || true
streams=64
slow=512
duration=5s
while [ $# -gt 0 ]; do
  case "$1" in
    --streams) streams=$2; shift 2 ;;
    --slow) slow=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is missing: run scripts/setup" >&2; exit 1; }

work=$(mktemp -d /tmp/fm-abuse-XXXXXX)
server_pid=""
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

password="bench-password-1"
echo "$password" | "$bin" user create --email bench@example.com --account Bench --role participant \
  --password-stdin --var-dir "$work" --log-level warn >/dev/null
FLEXMARKET_LIMITS_STREAMS_PER_USER=$((streams + 8)) "$bin" serve --var-dir "$work" --port 0 \
  2>"$work/server.log" &
server_pid=$!
port=$(wait_for_port "$work/server.log")
base="http://127.0.0.1:$port"
token=$(login "$base" bench@example.com "$password")

runs=$(bench_runs)
echo "flexmarket $("$bin" --version), $(nproc) cores, $runs runs"
# me: prints "REQUESTS_PER_S P99_MS".
me() {
  wrk -t2 -c64 -d"$duration" --latency -H "Authorization: Bearer $token" "$base/api/v1/me" | awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /^Requests\/sec/ {rps=$2} $1 == "99%" {p99=ms($2)} END {printf "%s %s\n", rps, p99}'
}
wrk -t1 -c64 -d2s -H "Authorization: Bearer $token" "$base/api/v1/me" >/dev/null
quiet=() quiet_p99=() busy=() busy_p99=()
for run in $(seq "$runs"); do
  read -r r p < <(me)
  quiet+=("$r") quiet_p99+=("$p")
  for _ in $(seq "$streams"); do
    curl -sN -H "Authorization: Bearer $token" "$base/api/v1/events" >/dev/null 2>&1 &
    pids+=($!)
  done
  sleep 2
  read -r r2 p2 < <(me)
  busy+=("$r2") busy_p99+=("$p2")
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  pids=()
  echo "run $run: no streams $r req/s, p99 $p ms; $streams streams open $r2 req/s, p99 $p2 ms"
done
note="SQLite, wrk 64 connections, $duration per run, request log on"
figure abuse.me_quiet Abuse "req/s" - 0 "GET /api/v1/me, no event stream open" "$note" "${quiet[@]}"
figure abuse.me_quiet_p99 Abuse ms - 0 "GET /api/v1/me p99, no event stream open" "$note" "${quiet_p99[@]}"
figure abuse.me_streams Abuse "req/s" - 0 "GET /api/v1/me with $streams event streams open" "$note" "${busy[@]}"
figure abuse.me_streams_p99 Abuse ms "<=" 10 "GET /api/v1/me p99 with $streams event streams open" "$note" "${busy_p99[@]}"

# Slow clients: each sends one byte of a request line every 8 s from 127.0.0.2.
python3 - "$port" "$slow" <<'PY' &
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
conns = []
for _ in range(n):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    try:
        s.connect(("127.0.0.1", port))
        s.send(b"G")
        conns.append(s)
    except OSError:
        pass
while True:
    time.sleep(8)
    for s in conns:
        try:
            s.send(b"E")
        except OSError:
            pass
PY
pids+=($!)
sleep 3
probes=()
for _ in $(seq 50); do
  probes+=("$(curl -s -o /dev/null -w '%{time_total}' "$base/api/v1/health" | awk '{printf "%.1f", $1 * 1000}')")
  sleep 0.2
done
worst=$(printf '%s\n' "${probes[@]}" | sort -g | tail -1)
note="$slow slow clients on 127.0.0.2, each sending one byte every 8 s; probes from 127.0.0.1"
figure abuse.health_slow Abuse ms - 0 "GET /api/v1/health while $slow slow clients trickle: 50 probes" "$note" "${probes[@]}"
figure abuse.health_slow_worst Abuse ms "<=" 100 "GET /api/v1/health while $slow slow clients trickle: worst of 50 probes" "$note" "$worst"
