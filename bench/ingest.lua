-- bench/ingest.lua: the wrk script of the ingest load (POST /api/v1/usage).
--
-- Every request is a different, realistic usage report of about 450 bytes: a member picked at
-- random from the dataset, an app (whose key goes in the Authorization header, since a key
-- reports only for its own app), a model with its provider and a cost computed from its list
-- price and the token counts, a project, a description, model parameters, and an idempotency
-- key that is unique per request: BENCH_NONCE (one per run) - wrk thread - counter. So no
-- report is an idempotent replay.
--
-- The lists come from BENCH_INGEST_DATA, a Lua file written by `runner ingestdata` from the
-- dataset's demo.json. The bare Fiber baseline is driven by this same script.
--
-- done() prints one "bench-status CODE COUNT" line per HTTP status seen, summed over the
-- threads, which the runner reads next to wrk's own "Non-2xx or 3xx responses" line.

local data = dofile(os.getenv("BENCH_INGEST_DATA") or "bench/out/ingest-data.lua")
local nonce = os.getenv("BENCH_NONCE") or tostring(os.time())

local threads = {}

-- BENCH_REPLICAS ("127.0.0.1:PORT,127.0.0.1:PORT,..."), when set, spreads wrk's threads over
-- those servers in turn (thread i talks to server i mod n): one wrk run, one latency histogram,
-- for several tokenjar replicas on one database. The URL on wrk's command line names the first.
local replicas = {}
for hostport in string.gmatch(os.getenv("BENCH_REPLICAS") or "", "[^,]+") do
  local host, port = string.match(hostport, "^(.*):(%d+)$")
  table.insert(replicas, wrk.lookup(host, port)[1])
end

function setup(thread)
  thread:set("tid", #threads + 1)
  if #replicas > 0 then
    thread.addr = replicas[(#threads % #replicas) + 1]
  end
  table.insert(threads, thread)
end

local counter = 0
statuses = {}

local descriptions = {
  "Summarized the attached chapter and listed its three main arguments",
  "Drafted a polite reply to the landlord about the heating repair",
  "Explained long division step by step with two worked examples",
  "Reviewed a pull request for the billing module and its error handling",
  "Translated the school newsletter into Spanish, keeping the dates",
  "Generated unit tests for the date parser, covering leap years",
  "Outlined a five-paragraph essay on renewable energy with counterpoints",
  "Answered questions about a lease agreement and flagged the deposit clauses",
}
local shorts = { "Summary", "Email draft", "Math help", "Code review", "Translation", "Tests", "Essay outline", "Q&A" }

function init(args)
  math.randomseed((tid or 1) * 7919 + os.time())
end

local function nano(n)
  -- nano-USD (an integer) as a decimal USD string
  local whole = math.floor(n / 1e9)
  local frac = n - whole * 1e9
  return string.format("%d.%09d", whole, frac)
end

function request()
  counter = counter + 1
  local app = data.apps[math.random(#data.apps)]
  local email = data.members[math.random(#data.members)]
  local m = data.models[math.random(#data.models)]
  local project = data.projects[math.random(#data.projects)]
  local d = math.random(#descriptions)
  local inTok = math.random(200, 4000)
  local outTok = math.random(50, 1200)
  local body = string.format(
    '{"aiAgentId":"%s","userEmail":"%s","description":"%s","shortDescription":"%s",' ..
    '"usageType":"token_usage","model":"%s","provider":"%s","modality":"text",' ..
    '"inputTokens":%d,"outputTokens":%d,"processingTimeMs":%d,"totalCost":%s,"project":"%s",' ..
    '"modelParameters":{"temperature":0.%d,"maxTokens":%d},"idempotencyKey":"wrk-%s-%d-%d"}',
    app.slug, email, descriptions[d], shorts[d], m.name, m.provider,
    inTok, outTok, math.random(300, 6000), nano(inTok * m.inp + outTok * m.out), project,
    math.random(0, 9), 1024 * math.random(1, 4), nonce, tid or 0, counter)
  return wrk.format("POST", "/api/v1/usage",
    { ["Authorization"] = "Bearer " .. app.key, ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local st = t:get("statuses")
    if st then
      for code, n in pairs(st) do
        total[code] = (total[code] or 0) + n
      end
    end
  end
  for code, n in pairs(total) do
    io.write(string.format("bench-status %d %d\n", code, n))
  end
end
