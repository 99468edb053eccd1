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
