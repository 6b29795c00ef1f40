-- bench/post_invalid.lua: wrk script for bench/hooks.py's authentication rows: POST /items with
-- the body {}, which the items service answers 422 (name and price missing) without touching its
-- store, after whatever hooks guard the route. Every write carries DEPTH requests (default 1; 16
-- for the pipelined run); -H headers (Authorization, Origin) go on each.
-- Use: wrk -t1 -c100 -d5s -s bench/post_invalid.lua http://127.0.0.1:PORT/items [-- DEPTH]

local batch

function init(args)
    local depth = tonumber(args[1]) or 1
    local reqs = {}
    wrk.headers["Content-Type"] = "application/json"
    for i = 1, depth do
        reqs[i] = wrk.format("POST", "/items", nil, "{}")
    end
    batch = table.concat(reqs)
end

function request()
    return batch
end
