#!/usr/bin/env bash
# `make bench`: runs every benchmark that prints figures, BENCH_RUNS (default 5) runs
# each, into one log, then regenerates docs/benchmarks.md from it (bench/report.py).
#
#   bench/run_all.sh [BUILD_DIR] [LOG]      (defaults: build, BUILD_DIR/bench.log)
#
# BENCH_ONLY="http ingest" runs only those groups (http, ingest, market, planning,
# portfolio, abuse, ui) and merges their figures with the log's others. The forecasting
# benchmarks (group forecast, about 20 minutes) run only when named there.
# Run it on a quiet machine: the figures are only as steady as the cores under them.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
log=${2:-$build/bench.log}
export BENCH_RUNS=${BENCH_RUNS:-5}
only=${BENCH_ONLY:-http ingest market integrity planning portfolio abuse ui}

version() { "$@" 2>&1 | head -1 || true; }
machine() {
  python3 - "$build" "$BENCH_RUNS" \
    "$(version sqlite3 --version | cut -d' ' -f1)" \
    "$(version "$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)/postgres" --version)" \
    "$(version /usr/sbin/nginx -v | sed 's/.*: //')" \
    "$(version wrk -v | cut -d' ' -f1-2)" \
    "$(python3 -c 'import scipy; print("scipy", scipy.__version__, "(HiGHS)")' 2>/dev/null ||
       /usr/bin/python3 -c 'import scipy; print("scipy", scipy.__version__, "(HiGHS)")' 2>/dev/null || true)" \
    "$(version c++ --version)" <<'PY'
import datetime, json, os, platform, re, subprocess, sys
build, runs, sqlite, pg, nginx, wrk, scipy, cxx = sys.argv[1:9]
cpu = "?"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip()
        break
mem = "?"
for line in open("/proc/meminfo"):
    if line.startswith("MemTotal"):
        mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
os_name = "?"
try:
    for line in open("/etc/os-release"):
        if line.startswith("PRETTY_NAME="):
            os_name = line.split("=", 1)[1].strip().strip('"')
except OSError:
    pass
build_type = "?"
try:
    m = re.search(r"CMAKE_BUILD_TYPE:STRING=(\S*)", open(os.path.join(build, "CMakeCache.txt")).read())
    build_type = m.group(1) if m else "?"
except OSError:
    pass
print("MACHINE " + json.dumps({
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "cpu": cpu, "cores": os.cpu_count(), "memory": mem, "os": os_name, "kernel": platform.release(),
    "build": build_type, "compiler": cxx, "runs": int(runs),
    "load": " ".join(open("/proc/loadavg").read().split()[:3]),
    "sqlite": sqlite, "postgresql": pg, "nginx": nginx, "wrk": wrk, "scipy": scipy}))
PY
}

wants() { [[ " $only " == *" $1 "* ]]; }

run() {
  machine
  if wants http; then
    ./bench/http_bench.sh "$build/flexmarket"
    ./bench/http_bench.sh "$build/flexmarket" --postgres
  fi
  if wants ingest; then
    "./$build/timeseries_bench"
    "./$build/timeseries_bench" --postgres
  fi
  if wants market; then
    "./$build/clearing_bench"
    ./bench/bid_bench.sh "$build/flexmarket"
    ./bench/bid_bench.sh "$build/flexmarket" --postgres
    "./$build/market_bench"
    "./$build/market_bench" --no-log
    "./$build/market_bench" --postgres
  fi
  if wants integrity; then
    "./$build/integrity_bench"
    "./$build/signed_ingest_bench"
    "./$build/signed_ingest_bench" --postgres
    # Many meters at once: one meter's batch is in its transaction while others' are checked.
    "./$build/signed_ingest_bench" --connections 8
    "./$build/signed_ingest_bench" --postgres --connections 8
  fi
  if wants planning; then "./$build/planning_bench"; fi
  if wants portfolio; then "./$build/portfolio_bench"; fi
  if wants abuse; then ./bench/abuse_bench.sh "$build/flexmarket"; fi
  if wants ui; then ./bench/ui_bench "$build" "$BENCH_RUNS"; fi
  if wants forecast; then
    "./$build/forecast_bench" speed
    "./$build/forecast_bench" accuracy
    "./$build/forecast_queue_bench" --backend both
  fi
}

mkdir -p "$(dirname "$log")"
if [ -n "${BENCH_ONLY:-}" ] && [ -f "$log" ]; then
  # A partial run adds to the last full one: its figures replace theirs.
  run | tee "$log.part"
  cat "$log.part" >> "$log"
  rm -f "$log.part"
else
  run | tee "$log"
fi
python3 bench/report.py "$log" > docs/benchmarks.md
echo "docs/benchmarks.md regenerated from $log"
