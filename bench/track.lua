-- POST /api/track/lead or /api/track/sale with a new customer (lead) or a new invoice (sale)
-- on every request:
--
--   wrk ... -s bench/track.lua URL -- TAG lead|sale TOKEN CLICK_IDS_FILE [CUSTOMERS]
--
-- Leads take their click ids round-robin from CLICK_IDS_FILE (one per line) and create the
-- customer "TAG-N"; sales go to the customers "LEADTAG-N" a lead run created (N below
-- CUSTOMERS), each with its own invoice id. Prints "distinct_visitors sent=N" at the end,
-- like distinct_visitors.lua, so the harness reads both the same way.
counter = 0
tag = "run"
local kind, token, clicks, customers, lead_tag = "lead", "", {}, 0, "lead"
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  tag = args[1]
  kind = args[2]
  token = args[3]
  for line in io.lines(args[4]) do
    table.insert(clicks, line)
  end
  customers = tonumber(args[5] or "0")
  lead_tag = args[6] or "lead"
end

request = function()
  counter = counter + 1
  local headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
  }
  local body
  if kind == "lead" then
    local click = clicks[(counter % #clicks) + 1]
    body = string.format(
      '{"clickId":"%s","eventName":"Sign up","customerExternalId":"%s-%d",'
        .. '"customerEmail":"%s-%d@example.com"}',
      click, tag, counter, tag, counter)
  else
    body = string.format(
      '{"customerExternalId":"%s-%d","amount":%d,"currency":"%s","invoiceId":"%s-%d"}',
      lead_tag, (counter % customers) + 1, 1000 + counter % 5000,
      (counter % 3 == 0) and "eur" or "usd", tag, counter)
  end
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  local sent = 0
  for _, thread in ipairs(threads) do
    sent = sent + thread:get("counter")
  end
  io.write(string.format("distinct_visitors sent=%d\n", sent))
end
