#!/usr/bin/env bash
# Requests/s and p99 latency of an authenticated GET /api/v1/me (and of GET /api/v1/health)
# at 64 concurrent keep-alive connections, measured with wrk against the real
# `flexmarket serve` on a fresh database (SQLite by default), request log on; interleaved
# with its peer, nginx serving the same body as a static file, run for run.
#
#   bench/http_bench.sh [path/to/flexmarket] [--postgres | --database URL] [--duration 5s] [--connections 64]
#
# BENCH_RUNS (default 5) runs of each; figures are printed as median (min–max).
#
# --postgres starts a throwaway PostgreSQL server in a temporary directory (as the
# postgres user when run as root) and removes it afterwards.
#
# Target: /api/v1/me >= 0.6x nginx static in the same run, p99 <= 10 ms.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

bin=${1:-build/flexmarket}
shift || true
database=""
duration=5s
connections=64
threads=2
postgres=0
while [ $# -gt 0 ]; do
  case "$1" in
    --database) database=$2; shift 2 ;;
    --postgres) postgres=1; shift ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is missing: run scripts/setup" >&2; exit 1; }

work=$(mktemp -d /tmp/fm-bench-XXXXXX)
chmod 755 "$work"  # the postgres user must reach its data directory inside
server_pid=""
pg_bin=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [ -n "$pg_bin" ] && as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ "$postgres" = 1 ]; then
  start_postgres "$work"
  database=$pg_url
fi

db_args=(--var-dir "$work")
[ -n "$database" ] && db_args+=(--database "$database")

password="bench-password-1"
echo "$password" | "$bin" user create --email bench@example.com --account Bench --role participant \
  --password-stdin "${db_args[@]}" --log-level warn >/dev/null

"$bin" serve "${db_args[@]}" --port 0 2>"$work/server.log" &
server_pid=$!
port=$(wait_for_port "$work/server.log")
base="http://127.0.0.1:$port"

token=$(login "$base" bench@example.com "$password")

# The peer: nginx (Debian's, at its packaged defaults: worker_processes auto, sendfile,
# access log on) serving the very bytes /api/v1/me answers as a static file.
body=$(curl -sf -H "Authorization: Bearer $token" "$base/api/v1/me")
mkdir -p "$work/nginx/www"
printf '%s' "$body" >"$work/nginx/www/me.json"
nginx_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
daemon on;
events { worker_connections 1024; }
http {
  sendfile on;
  tcp_nopush on;
  default_type application/json;
  access_log $work/nginx/access.log;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/nginx/www;
  }
}
CONF
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
"$nginx_bin" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log"
nginx_stop() { [ -f "$work/nginx/nginx.pid" ] && kill "$(cat "$work/nginx/nginx.pid")" 2>/dev/null || true; }
trap 'nginx_stop; cleanup' EXIT
nginx_url="http://127.0.0.1:$nginx_port/me.json"
[ "$(curl -sf "$nginx_url")" = "$body" ] || { echo "nginx does not serve the body" >&2; exit 1; }

backend=$(grep -o '"database":"[^"]*"' "$work/server.log" | head -1 | cut -d'"' -f4 | sed 's/:.*//')
case "$backend" in postgresql*|postgres*) label=PostgreSQL; key=postgres ;; *) label=SQLite; key=sqlite ;; esac
runs=$(bench_runs)
echo "flexmarket $("$bin" --version) on $label, $connections connections, $threads wrk threads, $duration per run, $runs runs, $(nproc) cores, request log on"

# wrk_run URL [ARGS...]: prints "REQUESTS_PER_S P99_MS NON_2XX".
wrk_run() {
  local url=$1; shift
  local out
  out=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$@" "$url")
  awk '
    function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
    /^Requests\/sec/ {rps=$2} $1 == "99%" {p99=ms($2)} /Non-2xx/ {bad=$NF}
    END {printf "%s %s %s\n", rps, p99, bad+0}' <<<"$out"
}

auth=(-H "Authorization: Bearer $token")
wrk -t1 -c"$connections" -d2s "${auth[@]}" "$base/api/v1/me" >/dev/null  # warm-up: opens the pool
wrk -t1 -c"$connections" -d2s "$nginx_url" >/dev/null
me=() me_p99=() peer=() peer_p99=() ratio=() health=() health_p99=()
for run in $(seq "$runs"); do
  read -r r p bad < <(wrk_run "$base/api/v1/me" "${auth[@]}")
  [ "$bad" = 0 ] || { echo "GET /api/v1/me: $bad answers were not 2xx" >&2; exit 1; }
  read -r nr np _ < <(wrk_run "$nginx_url")
  read -r hr hp _ < <(wrk_run "$base/api/v1/health")
  me+=("$r"); me_p99+=("$p"); peer+=("$nr"); peer_p99+=("$np"); health+=("$hr"); health_p99+=("$hp")
  ratio+=("$(python3 -c "print(round($r / $nr, 3))")")
  echo "run $run: /me $r req/s (p99 $p ms), nginx $nr req/s (p99 $np ms), /health $hr req/s"
done

conn="$connections connections"
figure "http.me.$key" HTTP "req/s" - 0 "GET /api/v1/me, bearer token, $label, $conn" "request log on" "${me[@]}"
figure "http.me_p99.$key" HTTP ms "<=" 10 "GET /api/v1/me p99 latency, $label, $conn" "" "${me_p99[@]}"
figure "http.nginx.$key" HTTP "req/s" - 0 "peer: nginx serving the same body as a static file (next to $label runs), $conn" \
  "Debian nginx, packaged defaults, access log on" "${peer[@]}"
figure "http.nginx_p99.$key" HTTP ms - 0 "peer: nginx static p99 latency (next to $label runs), $conn" "" "${peer_p99[@]}"
figure "http.me_vs_nginx.$key" HTTP x ">=" 0.6 "GET /api/v1/me on $label ÷ nginx static, same run" "per-run ratio" "${ratio[@]}"
figure "http.health.$key" HTTP "req/s" - 0 "GET /api/v1/health (no token; one SELECT 1 on the database), $label, $conn" "" "${health[@]}"
