-- bench/pipeline.lua: wrk script for TechEmpower-style pipelining. Every write carries DEPTH
-- (default 16) GET /json requests; wrk counts each answer as one request, so requests/s measures
-- the server's own cost per request rather than one round trip per request.
-- Use: wrk -t1 -c100 -d5s -s bench/pipeline.lua http://127.0.0.1:PORT/json [-- DEPTH]

local batch

function init(args)
    local depth = tonumber(args[1]) or 16
    local reqs = {}
    for i = 1, depth do
        reqs[i] = wrk.format("GET", "/json")
    end
    batch = table.concat(reqs)
end

function request()
    return batch
end
