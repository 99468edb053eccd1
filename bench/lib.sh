# Helpers shared by the benchmark scripts; source this file.

# wait_for_port LOG: waits for `flexmarket serve`'s "listening" line in LOG and prints
# the port it chose; fails with the log when the server does not start.
wait_for_port() {
  local log=$1 port=""
  for _ in $(seq 100); do
    port=$(grep -o '"port":[0-9]*' "$log" 2>/dev/null | head -1 | cut -d: -f2 || true)
    [ -n "$port" ] && { echo "$port"; return 0; }
    sleep 0.1
  done
  echo "server did not start:" >&2
  cat "$log" >&2
  return 1
}

# login BASE EMAIL PASSWORD: prints a bearer token.
login() {
  curl -sf -X POST "$1/api/v1/auth/token" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$2\",\"password\":\"$3\"}" | sed -E 's/.*"token":"([^"]+)".*/\1/'
}

# figure ID SECTION UNIT TARGET_OP TARGET "WHAT" "NOTE" SAMPLE...: prints one figure as
# "median (min–max)" and as the FIGURE line of JSON that bench/report.py reads (the same
# format as bench/figure.hpp). TARGET_OP is ">=", "<=" or "-" (no target).
figure() {
  local id=$1 section=$2 unit=$3 op=$4 target=$5 what=$6 note=$7
  shift 7
  python3 - "$id" "$section" "$unit" "$op" "$target" "$what" "$note" "$@" <<'PY'
import json, statistics, sys
id_, section, unit, op, target, what, note = sys.argv[1:8]
samples = [float(s) for s in sys.argv[8:]]
def fmt(v):
    a = abs(v)
    if a >= 1000: return f"{v:,.0f}"
    if a >= 100: return f"{v:.0f}"
    if a >= 10: return f"{v:.1f}"
    if a >= 1: return f"{v:.2f}"
    return f"{v:.3g}"
med = statistics.median(samples)
line = f"{what}: {fmt(med)} {unit} median ({fmt(min(samples))}–{fmt(max(samples))}) over {len(samples)} runs"
j = {"id": id_, "section": section, "what": what, "unit": unit, "samples": samples,
     "median": med, "min": min(samples), "max": max(samples), "note": note}
if op != "-":
    t = float(target)
    ok = med >= t if op == ">=" else med <= t
    line += f", target {op} {fmt(t)} {unit} {'met' if ok else 'MISSED'}"
    j.update(target_op=op, target=t, met=ok)
print(line)
print("FIGURE " + json.dumps(j, ensure_ascii=False))
PY
}

# bench_runs: how many runs each figure takes (BENCH_RUNS, default 5).
bench_runs() { echo "${BENCH_RUNS:-5}"; }

# start_postgres DIR: a throwaway PostgreSQL server in DIR/pg at PostgreSQL's defaults (fsync,
# synchronous_commit and full_page_writes on; --no-sync only spares initdb's own fsync of the
# template files), as the postgres user when run as root. Sets pg_bin and pg_url; the
# caller stops it with: as_pg "$pg_bin/pg_ctl" -D DIR/pg/data -m fast stop.
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
start_postgres() {
  local dir=$1 port
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  mkdir -p "$dir/pg"
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir/pg"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  as_pg "$pg_bin/initdb" -D "$dir/pg/data" -A trust -U postgres --no-sync >/dev/null
  as_pg "$pg_bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/log" -w \
    -o "-p $port -k $dir/pg -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
  pg_url="postgresql://postgres@127.0.0.1:$port/postgres"
}
