-- distinct_visitors.lua at a set pace: each connection waits DELAY ms after each answer.
--
--   wrk ... -s bench/paced_visitors.lua URL -- TAG DELAY
--
-- So that N connections send about N * 1000 / (DELAY + latency) requests a second
-- (bench/webhooks.py's steady run). The rest is bench/distinct_visitors.lua's.
-- Globals, not locals: thread:get() in done() reads a thread's globals.
counter = 0
tag = "run"
local threads = {}
local thread_id = 0

function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
  table.insert(threads, thread)
end

pace = 10

function init(args)
  counter = 0
  if args[1] ~= nil and args[1] ~= "" then
    tag = args[1]
  end
  if args[2] ~= nil then
    pace = tonumber(args[2])
  end
end

function delay()
  return pace
end

request = function()
  counter = counter + 1
  local ua = string.format(
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.%d.%d Safari/537.36 bench/%s",
    tid or 0, counter, tag)
  return wrk.format("GET", nil, { ["User-Agent"] = ua })
end

function done(summary, latency, requests)
  local sent = 0
  for _, thread in ipairs(threads) do
    sent = sent + thread:get("counter")
  end
  io.write(string.format("distinct_visitors sent=%d\n", sent))
end
