#!/usr/bin/env bash
# What abuse costs everyone else (issue 9), against the real `flexmarket serve` on a
# fresh SQLite database:
# 1. GET /api/v1/me p99 at 64 keep-alive connections (wrk) while N event streams are
#    open (target: p99 <= 10 ms with 64 streams);
# 2. GET /api/v1/health latency from 127.0.0.1 while S slow clients on 127.0.0.2 trickle
#    one header byte every 8 s (target: every probe under 100 ms with 512 slow clients).
#
#   bench/abuse_bench.sh [path/to/flexmarket] [--streams 64] [--slow 512] [--duration 10s]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

bin=${1:-build/flexmarket}
shift || true
streams=64
slow=512
duration=10s
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

echo "flexmarket $("$bin" --version), $(nproc) cores"
me() {
  local out
  out=$(wrk -t2 -c64 -d"$duration" --latency -H "Authorization: Bearer $token" "$base/api/v1/me")
  printf 'GET /api/v1/me, 64 connections, %4s event streams open: %10s req/s   p99 %s\n' "$1" \
    "$(awk '/^Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")"
}
wrk -t1 -c64 -d2s -H "Authorization: Bearer $token" "$base/api/v1/me" >/dev/null
me 0
for _ in $(seq "$streams"); do
  curl -sN -H "Authorization: Bearer $token" "$base/api/v1/events" >/dev/null 2>&1 &
  pids+=($!)
done
sleep 2
me "$streams"
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
pids=()

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
worst=0
total=0
for _ in $(seq 50); do
  ms=$(curl -s -o /dev/null -w '%{time_total}' "$base/api/v1/health" | awk '{printf "%d", $1 * 1000}')
  total=$((total + ms))
  [ "$ms" -gt "$worst" ] && worst=$ms
  sleep 0.2
done
printf 'GET /api/v1/health with %d slow clients on another address: mean %d ms, worst of 50 %d ms\n' \
  "$slow" $((total / 50)) "$worst"
