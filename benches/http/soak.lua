-- wrk script for benches/http/soak.sh: mixed reads and writes, signed in with TOKEN.
-- Each request is a write with probability WRITE_SHARE (a new synthetic report, a unique id
-- per thread and counter), otherwise one of the reads below in turn. Counts answers by status
-- and prints them as JSON lines at the end ("status <code> <n>").
local token = os.getenv("TOKEN")
local write_share = tonumber(os.getenv("WRITE_SHARE") or "0.1")
local bbox = os.getenv("BBOX") or "-0.2,51.45,0.05,51.6"
local reads = {
  "/api/hotspots?top=50",
  "/api/hotspots?top=20&from=2024-01-01&to=2024-03-31",
  "/api/journeys?bbox=" .. bbox .. "&limit=100",
  "/collections/stations/items?bbox=" .. bbox .. "&limit=100",
  "/collections/journeys/items?bbox=" .. bbox .. "&limit=50",
  "/api/trends?interval=month",
  "/api/flows?format=matrix",
  "/api/export?collection=forces&format=csv",
}
local pairs_ = { {"EUS","NRW"}, {"LIV","BPN"}, {"BHM","SWA"}, {"KGX","SKE"}, {"LST","IPS"}, {"MAN","BPN"} }
local threads = {}
local id = 0

function setup(thread)
  id = id + 1
  thread:set("tid", id)
  table.insert(threads, thread)
end

function init(args)
  counts = {}
  n = 0
  math.randomseed(tid * 7919)
end

function request()
  n = n + 1
  local headers = { ["Authorization"] = "Bearer " .. token }
  if math.random() < write_share then
    local p = pairs_[(n % #pairs_) + 1]
    local body = string.format(
      '{"report_id":"syn-soak-%d-%d-%d","reported_at":"2024-06-01T10:00:00Z","source_force":"BTP",' ..
      '"journey":{"date":"2024-06-01","mode":"rail","origin":{"station":"%s"},"destination":{"station":"%s"}},' ..
      '"persons":[{"person_id":"syn-soak-p-%d-%d","age_band":"15-17","roles":["runner"]}]}',
      os.time(), tid, n, p[1], p[2], tid, n)
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", "/api/journeys", headers, body)
  end
  return wrk.format("GET", reads[(n % #reads) + 1], headers)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do total[k] = (total[k] or 0) + v end
  end
  for k, v in pairs(total) do io.write(string.format("status %d %d\n", k, v)) end
  io.write(string.format("latency_ms p50 %.2f p99 %.2f max %.2f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
  io.write(string.format("requests %d errors connect %d read %d write %d timeout %d status %d\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, summary.errors.status))
end
