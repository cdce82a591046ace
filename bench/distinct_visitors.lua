-- Every request a distinct visitor: a realistic browser user agent with a counter in it.
--
--   wrk ... -s bench/distinct_visitors.lua URL -- TAG
--
-- TAG (optional) goes into every user agent, so that separate runs against the same link are
-- distinct visitors too; otherwise the one-hour click dedupe would answer the second run's
-- visitors from memory and store nothing. At the end the script prints how many requests it
-- sent ("distinct_visitors sent=N"): wrk's own count leaves out the requests still in flight
-- when it stops, which the server may well have received (and recorded) all the same. The
-- count includes the one request() call wrk 4.1 makes on its first thread to check the script,
-- which is never sent; bench/harness.py takes it off.
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

function init(args)
  counter = 0
  if args[1] ~= nil and args[1] ~= "" then
    tag = args[1]
  end
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
