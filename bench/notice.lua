-- wrk script for `make bench`: every request a new Topview notice (its own uuid and taskId),
-- and at the end one line "BENCH {...}" of JSON with the figures bench/run.py reads.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  math.randomseed(os.time() * 7919 + tid)
  prefix = string.format("%08x", math.random(0, 0x7fffffff))
  counter = 0
  headers = {["Content-Type"] = "application/json", ["Topview-Uid"] = "bench-uid"}
end

function request()
  counter = counter + 1
  local id = string.format("%s-%04x-4000-8000-%012x", prefix, tid, counter)
  local body = string.format(
    '{"uuid": "%s", "bizType": "M2V_EXPORT", "taskId": "bench-%s", "status": "success", '
    .. '"errorMsg": "", "result": {"exportVideos": [{"videoUrl": "https://cdn.example/%s.mp4"}]}}',
    id, id, id)
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
    .. '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
