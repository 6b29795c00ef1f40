-- bench/items_post.lua: wrk script for POST /items with a small valid body (201 each; every one
-- is its own write transaction in crest's store).
-- Use: wrk -t1 -c100 -d10s -s bench/items_post.lua http://127.0.0.1:PORT

wrk.method = "POST"
wrk.path = "/items"
wrk.body = '{"name":"bench item","price":9.99,"tags":["bench"]}'
wrk.headers["Content-Type"] = "application/json"
