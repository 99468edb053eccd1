#!/usr/bin/env bash
# Requests/s and p99 latency of GET /api/v1/health and of an authenticated
# GET /api/v1/me at 64 concurrent keep-alive connections, measured with wrk against the
# real `flexmarket serve` on a fresh database (SQLite by default).
#
#   bench/http_bench.sh [path/to/flexmarket] [--postgres | --database URL] [--duration 10s] [--connections 64]
#
# --postgres starts a throwaway PostgreSQL server in a temporary directory (as the
# postgres user when run as root) and removes it afterwards.
#
# Target on a 2-core machine: >= 20,000 authenticated requests/s with p99 <= 10 ms.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

bin=${1:-build/flexmarket}
shift || true
database=""
duration=10s
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
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  [ -n "$pg_bin" ] && as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ "$postgres" = 1 ]; then
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  mkdir -p "$work/pg"
  [ "$(id -u)" -eq 0 ] && chown postgres "$work/pg"
  pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  as_pg "$pg_bin/initdb" -D "$work/pg/data" -A trust -U postgres --no-sync >/dev/null
  as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
    -o "-p $pg_port -k $work/pg -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
  database="postgresql://postgres@127.0.0.1:$pg_port/postgres"
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

run() {
  local name=$1; shift
  local out
  out=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$@")
  local rps p99 non2xx
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  printf '%-28s %12s req/s   p99 %8s   non-2xx %s\n' "$name" "$rps" "$p99" "${non2xx:-0}"
}

echo "flexmarket $("$bin" --version) on $(grep -o '"database":"[^"]*"' "$work/server.log" | head -1 | cut -d'"' -f4 | sed 's/:.*//'), $connections connections, $threads wrk threads, $duration each, $(nproc) cores"
wrk -t1 -c"$connections" -d2s "$base/api/v1/health" >/dev/null  # warm-up: opens the pool
run "GET /api/v1/health" "$base/api/v1/health"
wrk -t1 -c"$connections" -d2s -H "Authorization: Bearer $token" "$base/api/v1/me" >/dev/null
run "GET /api/v1/me (bearer)" -H "Authorization: Bearer $token" "$base/api/v1/me"
