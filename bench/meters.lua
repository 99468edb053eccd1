-- wrk script for timeseries_bench: many meters, each posting its one 15-minute value per
-- request (POST /api/v1/sensors/{id}/data) over keep-alive connections.
--
--   wrk -tT -c64 -d10s -s bench/meters.lua URL -- TOKEN FIRST_SENSOR METERS BASE_UNIX T
--
-- Meters are sensors FIRST_SENSOR .. FIRST_SENSOR + METERS - 1. Each wrk thread owns the
-- meters with index = thread (mod threads), visits them in a scattered order (a stride
-- prime to their count) and posts each meter's next quarter-hour from BASE_UNIX on, so no
-- two requests carry the same belief. Prints one line "METERS requests=.. seconds=.. rps=..
-- non_2xx=.. socket_errors=.." at the end.

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  token = args[1]
  first = tonumber(args[2])
  meters = tonumber(args[3])
  base = tonumber(args[4])
  nthreads = tonumber(args[5])
  headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
  -- This thread's meters: index id, id + n, id + 2n, ...
  own = math.floor((meters - id + nthreads - 1) / nthreads)
  stride = 7919  -- prime; a different meter (far from the last) each request
  while own % stride == 0 do stride = stride + 2 end
  at = 0
  visit = 0
  bad = 0
end

local function iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

function request()
  local k = (at * stride) % own
  at = at + 1
  local round = math.floor((at - 1) / own)  -- every meter posted once per round
  local meter = first + id + k * nthreads
  local t = base + round * 900
  local body = string.format('{"start":"%s","values":[%d.%03d]}', iso(t), (meter + round) % 500, at % 1000)
  return wrk.format("POST", "/api/v1/sensors/" .. meter .. "/data", headers, body)
end

function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, requests)
  local non2xx = 0
  for _, t in ipairs(threads) do non2xx = non2xx + t:get("bad") end
  local e = summary.errors
  io.write(string.format("METERS requests=%d seconds=%.3f rps=%.1f non_2xx=%d socket_errors=%d p50_ms=%.2f p99_ms=%.2f\n",
                         summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6), non2xx,
                         e.connect + e.read + e.write + e.timeout, latency:percentile(50) / 1000,
                         latency:percentile(99) / 1000))
end
