-- wrk script for bench/soak.sh: a mix of reads and writes as participants and BEMSs make
-- them, with every answer's status counted.
--
--   40 % GET /api/v1/me
--   15 % GET /api/v1/markets/{id}/clearings?per_page=24     (the market's slots)
--   15 % GET /api/v1/sensors/{meter}/data (one day, hourly)  (a sensor's data)
--   15 % POST /api/v1/markets/{id}/bids                     (slots 2 to 300 days ahead: no gate closes during the run)
--   15 % POST /api/v1/sensors/{ingest}/data                 (an hour of 15-minute readings, marching on; after
--                                                             four years of them a thread posts them again)
--
-- Settings come from the environment: SOAK_TOKEN, SOAK_MARKET, SOAK_METER, SOAK_INGEST,
-- SOAK_READ_START, SOAK_READ_END (ISO 8601), SOAK_NOW (Unix seconds).

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  token = os.getenv("SOAK_TOKEN")
  market = os.getenv("SOAK_MARKET")
  meter = os.getenv("SOAK_METER")
  ingest = os.getenv("SOAK_INGEST")
  read_path = "/api/v1/sensors/" .. meter .. "/data?start=" .. os.getenv("SOAK_READ_START") .. "&end=" ..
                  os.getenv("SOAK_READ_END") .. "&resolution=PT1H"
  now = tonumber(os.getenv("SOAK_NOW"))
  headers = {["Authorization"] = "Bearer " .. token}
  post_headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
  math.randomseed(id * 7919)
  counter = 0
  -- Each thread's readings go to its own four years, from 2000 on.
  ingest_base = 946684800 + (id - 1) * 4 * 365 * 86400
  statuses = {}
end

local function iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

function request()
  local r = math.random(100)
  if r <= 40 then
    return wrk.format("GET", "/api/v1/me", headers)
  elseif r <= 55 then
    return wrk.format("GET", "/api/v1/markets/" .. market .. "/clearings?per_page=24", headers)
  elseif r <= 70 then
    return wrk.format("GET", read_path, headers)
  elseif r <= 85 then
    local slot = (math.floor(now / 3600) + 48 + math.random(0, 300 * 24)) * 3600
    local side = (math.random(2) == 1) and "buy" or "sell"
    local body = string.format('{"side":"%s","slot_start":"%s","volume_kwh":%d,"price":%d.%02d}', side, iso(slot),
                               math.random(1, 50), math.random(1, 8), math.random(0, 99))
    return wrk.format("POST", "/api/v1/markets/" .. market .. "/bids", post_headers, body)
  else
    local start = ingest_base + (counter % (4 * 365 * 24)) * 3600
    counter = counter + 1
    local v = counter % 97
    local body = string.format('{"start":"%s","values":[%d.5,%d.25,%d,%d.75]}', iso(start), v, v + 1, v + 2, v + 3)
    return wrk.format("POST", "/api/v1/sensors/" .. ingest .. "/data", post_headers, body)
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total, bad = {}, 0
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, n in pairs(s) do
      total[code] = (total[code] or 0) + n
      if code >= 400 then bad = bad + n end
    end
  end
  local e = summary.errors
  local socket_errors = e.connect + e.read + e.write + e.timeout
  local codes = {}
  for code, n in pairs(total) do table.insert(codes, string.format("%d:%d", code, n)) end
  table.sort(codes)
  io.write(string.format("SOAK requests=%d seconds=%.1f rps=%.0f errors=%d non_2xx_3xx=%d socket_errors=%d "
                             .. "(connect %d, read %d, write %d, timeout %d) p50_ms=%.2f p99_ms=%.2f max_ms=%.1f\n",
                         summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
                         bad + socket_errors, bad, socket_errors, e.connect, e.read, e.write, e.timeout,
                         latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  io.write("SOAK statuses " .. table.concat(codes, " ") .. "\n")
end
