-- wrk script for bench/run. Configured from the environment so that one
-- script serves every scenario:
--   BENCH_METHOD      request method (default GET)
--   BENCH_BODY        request body; sent as application/json
--   BENCH_KEYS        a file of header values, one a line, used in turn
--                     (each thread starts at its own place in the list:
--                     with BENCH_THREADS, the number of wrk threads, the
--                     threads start evenly spaced, so that together they
--                     cycle through every value, not overlapping runs)
--   BENCH_KEY_HEADER  the header those values go in (Authorization, Cookie)
--   BENCH_BODIES      a file of request bodies, one a line, used in turn
--                     (logins of many users); overrides BENCH_BODY
-- done() prints one line, "BENCH_JSON {...}", that bench/run reads.

local method = os.getenv("BENCH_METHOD")
if method and method ~= "" then
  wrk.method = method
end
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

-- The non-empty lines of the file named by the environment variable `name`,
-- or nil when it is not set.
local function lines_of(name)
  local path = os.getenv(name)
  if not path or path == "" then
    return nil
  end
  local lines = {}
  for line in io.lines(path) do
    if line ~= "" then
      lines[#lines + 1] = line
    end
  end
  return lines
end

local header = os.getenv("BENCH_KEY_HEADER")
local values = lines_of("BENCH_KEYS")
local bodies = lines_of("BENCH_BODIES")
if bodies then
  wrk.headers["Content-Type"] = "application/json"
end

local threads = 0
function setup(thread)
  thread:set("thread_index", threads)
  threads = threads + 1
end

local i = 0
local b = 0
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "")
function init(args)
  if values then
    if nthreads and nthreads > 0 then
      i = math.floor((thread_index or 0) * #values / nthreads) % #values
    else
      i = ((thread_index or 0) * 7919) % #values
    end
  end
  if bodies then
    b = ((thread_index or 0) * 7919) % #bodies
  end
end

if values then
  request = function()
    i = i % #values + 1
    wrk.headers[header] = values[i]
    return wrk.format()
  end
elseif bodies then
  request = function()
    b = b % #bodies + 1
    return wrk.format(nil, nil, nil, bodies[b])
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
