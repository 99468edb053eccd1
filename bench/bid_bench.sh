#!/usr/bin/env bash
# Bid placement over HTTP measured with wrk (an external load generator, so the server
# gets the two cores): POST /api/v1/markets/{id}/bids from 32 keep-alive connections
# for 8 s on a fresh SQLite database, simulated market clock, request logging on.
#
#   bench/bid_bench.sh [path/to/flexmarket] [--duration 8s] [--connections 32]
#
# Target on 2 cores: >= 10,000 bids/s.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bin=${1:-build/flexmarket}
shift || true
duration=8s
connections=32
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d /tmp/fm-bidbench-XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
echo "operator-password-1" | "$bin" user create --email op@example.com --account Ops --role operator --password-stdin --var-dir "$work" --log-level warn >/dev/null
echo "participant-pw-1" | "$bin" user create --email p@example.com --account Site --role participant --password-stdin --var-dir "$work" --log-level warn >/dev/null
"$bin" serve --var-dir "$work" --port 0 --clock simulated --start 2026-11-23T00:00:00+08:00 --speed 0.000001 2>"$work/server.log" >/dev/null &
server_pid=$!
port=$(wait_for_port "$work/server.log")
base="http://127.0.0.1:$port"
op=$(login "$base" op@example.com operator-password-1)
pt=$(login "$base" p@example.com participant-pw-1)
market=$(curl -sf -X POST "$base/api/v1/markets" -H "Authorization: Bearer $op" -d '{"name":"bench","price_max":10}' | sed -E 's/.*"id":([0-9]+).*/\1/')
# A participant bids only with a settlement meter in the market.
meter=$(curl -sf -X POST "$base/api/v1/sensors" -H "Authorization: Bearer $pt" \
  -d '{"name":"meter","unit":"kW","event_resolution":"PT15M"}' | sed -E 's/.*"id":([0-9]+).*/\1/')
account=$(curl -sf "$base/api/v1/me" -H "Authorization: Bearer $pt" | sed -E 's/.*"account":\{"id":([0-9]+).*/\1/')
curl -sf -X PUT "$base/api/v1/markets/$market/meters/$account" -H "Authorization: Bearer $op" \
  -d "{\"sensor_id\":$meter}" >/dev/null
cat > "$work/bid.lua" <<LUA
local n = 0
request = function()
  n = n + 1
  local side = (n % 2 == 0) and "buy" or "sell"
  local body = string.format('{"side":"%s","slot_start":"2026-11-23T10:00:00+08:00","volume_kwh":%.3f,"price":%.2f}',
                             side, 1 + (n % 5000) / 100, 1 + (n % 400) / 100)
  return wrk.format("POST", "/api/v1/markets/$market/bids",
                    {["Authorization"] = "Bearer $pt", ["Content-Type"] = "application/json"}, body)
end
LUA
out=$(wrk -t2 -c"$connections" -d"$duration" --latency -s "$work/bid.lua" "$base")
stored=$(curl -sf "$base/api/v1/markets/$market/bids?per_page=1" -H "Authorization: Bearer $pt" | sed -E 's/.*"total":([0-9]+).*/\1/')
printf 'bid placement over HTTP (wrk, %s connections, %s): %s bids/s, p99 %s, %s bids stored, non-2xx %s\n' \
  "$connections" "$duration" "$(awk '/^Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")" \
  "$stored" "$(awk '/Non-2xx/ {print $NF}' <<<"$out" | grep . || echo 0)"
