-- Signed Stripe webhook deliveries, one pre-signed event per request:
--
--   wrk ... -s bench/stripe_webhooks.lua URL -- TAG EVENTS_FILE
--
-- EVENTS_FILE holds one "Stripe-Signature<TAB>body" per line (made by bench/stripe_webhooks.py just
-- before the run: signatures are only good for 300 s). Every request is a different event;
-- the run stops sending new ones once the file is used up. Prints "distinct_visitors sent=N"
-- at the end like the other scripts, so the harness reads them the same way.
counter = 0
local events = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  for line in io.lines(args[2]) do
    local tab = string.find(line, "\t", 1, true)
    table.insert(events, { string.sub(line, 1, tab - 1), string.sub(line, tab + 1) })
  end
end

request = function()
  counter = counter + 1
  local event = events[((counter - 1) % #events) + 1]
  local headers = {
    ["Content-Type"] = "application/json; charset=utf-8",
    ["Stripe-Signature"] = event[1],
  }
  return wrk.format("POST", nil, headers, event[2])
end

function done(summary, latency, requests)
  local sent = 0
  for _, thread in ipairs(threads) do
    sent = sent + thread:get("counter")
  end
  io.write(string.format("distinct_visitors sent=%d\n", sent))
end
