#!/usr/bin/env bash
# Bid placement over HTTP measured with wrk (an external load generator, so the server
# gets the two cores): POST /api/v1/markets/{id}/bids from keep-alive connections on a
# fresh database, simulated market clock, request log on. Each run places bids for a slot
# of its own; the bids stored are checked against the 201s wrk counted.
#
#   bench/bid_bench.sh [path/to/flexmarket] [--postgres] [--duration 5s] [--connections 64]
#
# SQLite by default (WAL, synchronous=NORMAL: flexmarket's own settings). --postgres starts
# a throwaway PostgreSQL server at its default durable settings (fsync, synchronous_commit
# and full_page_writes on; only initdb skips its own fsync) and removes it afterwards.
# BENCH_RUNS (default 5) runs; figures are printed as median (min–max).
#
# Targets on 2 cores: >= 25,000 bids/s on SQLite, >= 10,000 bids/s on PostgreSQL.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
bin=${1:-build/flexmarket}
shift || true
duration=5s
connections=64
threads=2
postgres=0
while [ $# -gt 0 ]; do
  case "$1" in
    --postgres) postgres=1; shift ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is missing: run scripts/setup" >&2; exit 1; }
work=$(mktemp -d /tmp/fm-bidbench-XXXXXX)
chmod 755 "$work"  # the postgres user must reach its data directory inside
server_pid=""
pg_bin=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [ -n "$pg_bin" ] && as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

db_args=(--var-dir "$work")
if [ "$postgres" = 1 ]; then
  start_postgres "$work"
  db_args+=(--database "$pg_url")
  settings=$(as_pg "$pg_bin/psql" "$pg_url" -Atc \
    "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync','synchronous_commit','full_page_writes','wal_sync_method')")
  label=PostgreSQL key=postgres target=10000
  durability="PostgreSQL $("$pg_bin/postgres" --version | awk '{print $NF}') at its defaults: $settings"
else
  label=SQLite key=sqlite target=25000
  durability="SQLite in WAL mode, synchronous=NORMAL (flexmarket's settings)"
fi

echo "operator-password-1" | "$bin" user create --email op@example.com --account Ops --role operator --password-stdin "${db_args[@]}" --log-level warn >/dev/null
echo "participant-pw-1" | "$bin" user create --email p@example.com --account Site --role participant --password-stdin "${db_args[@]}" --log-level warn >/dev/null
"$bin" serve "${db_args[@]}" --port 0 --clock simulated --start 2026-11-23T00:00:00+08:00 --speed 0.000001 2>"$work/server.log" >/dev/null &
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

# bid.lua HOUR: bids for the slot starting at HOUR:00 local time.
write_script() {
  cat > "$work/bid.lua" <<LUA
local n = 0
request = function()
  n = n + 1
  local side = (n % 2 == 0) and "buy" or "sell"
  local body = string.format('{"side":"%s","slot_start":"2026-11-23T$1:00:00+08:00","volume_kwh":%.3f,"price":%.2f}',
                             side, 1 + (n % 5000) / 100, 1 + (n % 400) / 100)
  return wrk.format("POST", "/api/v1/markets/$market/bids",
                    {["Authorization"] = "Bearer $pt", ["Content-Type"] = "application/json"}, body)
end
LUA
}

# wrk_run: prints "REQUESTS_PER_S P99_MS REQUESTS NON_2XX".
wrk_run() {
  local out
  out=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency -s "$work/bid.lua" "$base")
  awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /^Requests\/sec/ {rps=$2} $1 == "99%" {p99=ms($2)} / requests in / {n=$1} /Non-2xx/ {bad=$NF}
    END {printf "%s %s %s %s\n", rps, p99, n, bad+0}' <<<"$out"
}

runs=$(bench_runs)
echo "flexmarket $("$bin" --version) on $label, $connections connections, $threads wrk threads, $duration per run, $runs runs, $(nproc) cores, request log on"
write_script 08
wrk -t1 -c"$connections" -d2s -s "$work/bid.lua" "$base" >/dev/null  # warm-up: opens the pool
rate=() p99=()
for run in $(seq "$runs"); do
  hour=$(printf '%02d' $((9 + run)))
  write_script "$hour"
  read -r r p n bad < <(wrk_run)
  stored=$(curl -sf "$base/api/v1/markets/$market/bids?per_page=1&slot_start=2026-11-23T$hour:00:00%2B08:00" \
    -H "Authorization: Bearer $pt" | sed -E 's/.*"total":([0-9]+).*/\1/')
  echo "run $run: $r bids/s, p99 $p ms, $n requests, non-2xx $bad, $stored bids stored"
  if [ "$bad" != 0 ] || [ "$stored" -lt "$n" ]; then  # (wrk stops with bids in flight: stored may exceed n)
    echo "bids lost or refused: $n requests, $bad non-2xx, $stored stored" >&2
    exit 1
  fi
  rate+=("$r") p99+=("$p")
done
what="bid placement over HTTP on $label (wrk, $connections connections, $duration per run)"
note="POST /api/v1/markets/{id}/bids, one participant, request log on; $durability"
figure "market.bids_http_$key" Market "bids/s" ">=" "$target" "$what" "$note" "${rate[@]}"
figure "market.bids_http_${key}_p99" Market ms - 0 "bid placement over HTTP on $label: p99 latency" "$note" "${p99[@]}"
