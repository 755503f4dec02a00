-- wrk script for every operation: `wrk ... -s load.lua URL -- METHOD PATH BODY KEY IDS EXPECT`.
-- PATH may hold {id}, replaced by the comma-separated IDS in turn; BODY (or "") may hold {n},
-- replaced by thread and counter so that each request's is unique (a create's name). A 2xx
-- answer whose body does not start with EXPECT is counted as failed: the current API answers
-- its errors with HTTP 200.
-- `done` prints one JSON line: counts, errors and latency percentiles (microseconds).
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  method, path, body, expect, sent, bad, failed = args[1], args[2], args[3], args[6], 0, 0, 0
  ids = {}
  for id in string.gmatch(args[5] or "", "[^,]+") do
    table.insert(ids, id)
  end
  wrk.headers["Authorization"] = "Bearer " .. args[4]
  if body == "" then
    body = nil
  else
    wrk.headers["Content-Type"] = "application/json"
  end
  if not path:find("{id}", 1, true) and not (body and body:find("{n}", 1, true)) then
    fixed = wrk.format(method, path, nil, body)
  end
end

function request()
  if fixed then
    return fixed
  end
  sent = sent + 1
  local target = path
  if #ids > 0 then
    target = path:gsub("{id}", ids[sent % #ids + 1])
  end
  local payload = body and body:gsub("{n}", thread_id .. "-" .. sent)
  return wrk.format(method, target, nil, payload)
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    bad = bad + 1
  elseif body:sub(1, #expect) ~= expect then
    failed = failed + 1
  end
end

function done(summary, latency, requests)
  local non2xx, failed = 0, 0
  for _, thread in ipairs(threads) do
    non2xx = non2xx + thread:get("bad")
    failed = failed + thread:get("failed")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non2xx": %d, "failed": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, non2xx, failed, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
