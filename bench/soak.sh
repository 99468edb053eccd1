#!/usr/bin/env bash
# The soak: two `flexmarket serve` behind nginx on a throwaway PostgreSQL, driven by wrk at
# 64 connections for SOAK_SECONDS (default 1800) with a mix of reads (GET /api/v1/me, the
# market's slots, a sensor's data), bid placement and readings ingest (bench/soak.lua).
# Prints requests, errors (non-2xx/3xx answers and socket errors), p50/p99 latency, and the
# resident memory (VmRSS) of each flexmarket process and of nginx at the start and the end.
#
#   bench/soak.sh [path/to/flexmarket]
#   SOAK_SECONDS=60 bench/soak.sh            # a quick run
#
# Environment: SOAK_SECONDS (1800), SOAK_CONNECTIONS (64), SOAK_THREADS (2).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

bin=$(realpath "${1:-build/flexmarket}")
seconds=${SOAK_SECONDS:-1800}
connections=${SOAK_CONNECTIONS:-64}
threads=${SOAK_THREADS:-2}
command -v wrk >/dev/null || { echo "wrk is missing: run scripts/setup" >&2; exit 1; }
[ -x /usr/sbin/nginx ] || { echo "/usr/sbin/nginx is missing: run scripts/setup (nginx-light)" >&2; exit 1; }

work=$(mktemp -d /tmp/fm-soak-XXXXXX)
chmod 755 "$work"  # the postgres user and nginx's workers reach their directories inside
pids=()
pg_bin=""
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "$pg_bin" ] && as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  if [ -n "${SOAK_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# PostgreSQL, as in bench/http_bench.sh.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
mkdir -p "$work/pg"
[ "$(id -u)" -eq 0 ] && chown postgres "$work/pg"
pg_port=$(free_port)
as_pg "$pg_bin/initdb" -D "$work/pg/data" -A trust -U postgres --no-sync >/dev/null
as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
  -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
database="postgresql://postgres@127.0.0.1:$pg_port/postgres"
export FLEXMARKET_AUTH_TOKEN_PEPPER=8d3c0f5a1b2e4d6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7
db_args=(--database "$database" --log-level warn)

"$bin" db upgrade "${db_args[@]}" --var-dir "$work/cli" >/dev/null
password="soak-password-1"
echo "$password" | "$bin" user create --email soak@example.com --account "Soak BEMS" --role participant \
  --password-stdin "${db_args[@]}" --var-dir "$work/cli" >/dev/null
echo "$password" | "$bin" user create --email ops@example.com --account "Soak Ops" --role operator \
  --password-stdin "${db_args[@]}" --var-dir "$work/cli" >/dev/null

# Two servers (request logs off: a soak's log would be gigabytes).
ports=()
for i in 1 2; do
  FLEXMARKET_LOG_REQUESTS=false "$bin" serve --database "$database" --var-dir "$work/serve$i" --port 0 \
    2>"$work/serve$i.log" &
  pids+=($!)
  ports+=("$(wait_for_port "$work/serve$i.log")")
done

# nginx: round robin over both, keep-alive to them, the event stream unbuffered.
mkdir -p "$work/nginx"
chmod 755 "$work/nginx"
lb_port=$(free_port)
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/client_body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream flexmarket {
    server 127.0.0.1:${ports[0]} max_fails=1 fail_timeout=2s;
    server 127.0.0.1:${ports[1]} max_fails=1 fail_timeout=2s;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$lb_port;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host \$host;
    proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
    location / { proxy_pass http://flexmarket; }
    location /api/v1/events { proxy_pass http://flexmarket; proxy_buffering off; proxy_read_timeout 1h; }
  }
}
EOF
/usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" -g 'daemon off;' &
nginx_pid=$!
pids+=("$nginx_pid")
base="http://127.0.0.1:$lb_port"
for _ in $(seq 100); do curl -sf "$base/api/v1/health" >/dev/null && break; sleep 0.1; done

# Data: a market, the participant's site with a meter (a week of readings) and a sensor
# that the ingest writes to.
J='Content-Type: application/json'
ops=$(login "$base" ops@example.com "$password")
token=$(login "$base" soak@example.com "$password")
market=$(curl -sf -X POST "$base/api/v1/markets" -H "Authorization: Bearer $ops" -H "$J" \
  -d '{"name": "Soak market", "timezone": "Asia/Taipei", "currency": "TWD", "price_max": 10}' | jq .id)
site=$(curl -sf -X POST "$base/api/v1/assets" -H "Authorization: Bearer $token" -H "$J" \
  -d '{"name": "soak site", "type": "site", "timezone": "Asia/Taipei"}' | jq .id)
meter=$(curl -sf -X POST "$base/api/v1/sensors" -H "Authorization: Bearer $token" -H "$J" \
  -d '{"name": "net load", "unit": "kW", "event_resolution": "PT15M", "asset_id": '"$site"'}' | jq .id)
ingest=$(curl -sf -X POST "$base/api/v1/sensors" -H "Authorization: Bearer $token" -H "$J" \
  -d '{"name": "submeter", "unit": "kW", "event_resolution": "PT15M", "asset_id": '"$site"'}' | jq .id)
account=$(curl -sf "$base/api/v1/me" -H "Authorization: Bearer $token" | jq .account.id)
curl -sf -X PUT "$base/api/v1/markets/$market/meters/$account" -H "Authorization: Bearer $ops" -H "$J" \
  -d '{"sensor_id": '"$meter"'}' >/dev/null
now=$(date +%s)
week_start=$(( (now / 86400 - 7) * 86400 ))
values=$(python3 -c 'import math; print(",".join(str(round(30 + 10 * math.sin(k / 15), 3)) for k in range(7 * 96)))')
curl -sf -X POST "$base/api/v1/sensors/$meter/data" -H "Authorization: Bearer $token" -H "$J" \
  -d '{"start": "'"$(date -u -d @"$week_start" +%FT%TZ)"'", "values": ['"$values"']}' >/dev/null

export SOAK_TOKEN=$token SOAK_MARKET=$market SOAK_METER=$meter SOAK_INGEST=$ingest SOAK_NOW=$now
export SOAK_READ_START=$(date -u -d @"$(( week_start + 5 * 86400 ))" +%FT%TZ)
export SOAK_READ_END=$(date -u -d @"$(( week_start + 6 * 86400 ))" +%FT%TZ)

# Resident memory of each process (nginx: master and workers).
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo "-"; }
memory() {
  local label=$1 line="" p
  for i in 0 1; do line+="serve$((i + 1)) $(rss "${pids[$i]}") kB  "; done
  for p in $nginx_pid $(cat "/proc/$nginx_pid/task/$nginx_pid/children" 2>/dev/null); do
    line+="nginx[$p] $(rss "$p") kB  "
  done
  echo "memory at $label: $line"
}

echo "flexmarket $("$bin" --version) soak: 2 servers behind nginx on PostgreSQL, $connections connections," \
  "$threads wrk threads, ${seconds} s, $(nproc) cores"
wrk -t1 -c"$connections" -d2s -H "Authorization: Bearer $token" "$base/api/v1/me" >/dev/null  # opens the pools
memory start
out=$(wrk -t"$threads" -c"$connections" -d"${seconds}s" --timeout 10s -s "$here/soak.lua" "$base")
memory end
grep '^SOAK' <<<"$out" | sed 's/^SOAK //'
bids=$(as_pg "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -Atc 'SELECT count(*) FROM bids')
beliefs=$(as_pg "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -Atc 'SELECT count(*) FROM beliefs')
echo "stored: $bids bids, $beliefs beliefs"
for i in 1 2; do
  kill -0 "${pids[$((i - 1))]}" 2>/dev/null || echo "serve$i died during the soak: $(tail -5 "$work/serve$i.log")"
done
