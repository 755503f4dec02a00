-- wrk script for both operations: `wrk ... -s load.lua URL -- list KEY` or `-- create KEY RUN`.
-- `done` prints one JSON line: counts, errors and latency percentiles (microseconds).
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  op, run, sent, bad = args[1], args[3] or "0", 0, 0
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  if op == "list" then
    fixed = wrk.format("GET", "/api/v1/dataset?count=20")
  else
    wrk.headers["Content-Type"] = "application/json"
  end
end

function request()
  if fixed then
    return fixed
  end
  sent = sent + 1  -- a unique name per request: run, thread, counter
  local body = string.format('{"name": "b%s-%d-%d"}', run, thread_id, sent)
  return wrk.format("POST", "/api/v1/dataset", nil, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local non2xx = 0
  for _, thread in ipairs(threads) do
    non2xx = non2xx + thread:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non2xx": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, non2xx, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
