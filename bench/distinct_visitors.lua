-- Every request a distinct visitor: a realistic browser user agent with a counter in it.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  counter = 0
end

request = function()
  counter = counter + 1
  local ua = string.format(
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.%d.%d Safari/537.36",
    tid or 0, counter)
  return wrk.format("GET", nil, { ["User-Agent"] = ua })
end
