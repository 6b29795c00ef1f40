-- bench/items_get.lua: wrk script for GET /items/{id}, ids 1..N in turn (default 1000, the items
-- bench/items.py seeds). The requests are built once; each call returns the next one, so every
-- connection walks the ids and the server reads rows spread over the whole table.
-- Use: wrk -t1 -c100 -d10s -s bench/items_get.lua http://127.0.0.1:PORT [-- N]

local reqs, n, i = {}, 0, 0

function init(args)
    n = tonumber(args[1]) or 1000
    for id = 1, n do
        reqs[id] = wrk.format("GET", "/items/" .. id)
    end
end

function request()
    i = i % n + 1
    return reqs[i]
end
