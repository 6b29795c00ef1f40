"""The TechEmpower test types in FastAPI on PostgreSQL through asyncpg: the peer of examples/tfb.c.

Written the way TechEmpower's own FastAPI implementation (frameworks/Python/fastapi/app.py) is:
an asyncpg pool; /db one fetch; /queries one prepared SELECT per row, awaited in turn on one
connection; /fortunes all rows, the added one, sorted by message, rendered by a Jinja2 template
with autoescape; /updates a SELECT per row, then executemany of the UPDATE (sorted ids, as
TechEmpower's does to avoid deadlocks); queries clamped to 1..500 (not an integer: 1). JSON goes
out through UJSONResponse when ujson is installed (TechEmpower's choice without orjson, which
Debian does not package), else FastAPI's JSONResponse. uvicorn picks uvloop and httptools when
they are installed (Debian's python3-uvloop, python3-httptools), as TechEmpower's uvicorn
[standard] does. Debian's python3-fastapi 0.92, python3-asyncpg, python3-jinja2.

It uses the World and Fortune tables examples/tfb creates (the same rows for both); it creates
none.

    /usr/bin/python3 bench/peers/tfb_fastapi_asyncpg.py --port P \
        --db postgresql://user:pass@127.0.0.1:5432/db [--pool 10]
    (or DATABASE_URL in the environment; --db wins)
"""

import argparse
import os
from random import randint, sample

import asyncpg
import jinja2
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, PlainTextResponse

try:
    from fastapi.responses import UJSONResponse as JSONResponse
    import ujson  # noqa: F401  (UJSONResponse needs it at the first response)
except ImportError:
    from fastapi.responses import JSONResponse

READ_ROW_SQL = 'SELECT "id", "randomnumber" FROM "world" WHERE id = $1'
WRITE_ROW_SQL = 'UPDATE "world" SET "randomnumber" = $1 WHERE id = $2'
ADDITIONAL_ROW = (0, "Additional fortune added at request time.")

TEMPLATE = jinja2.Environment(autoescape=True).from_string(
    "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
    "<tr><th>id</th><th>message</th></tr>"
    "{% for fortune in fortunes %}<tr><td>{{ fortune[0] }}</td><td>{{ fortune[1] }}</td></tr>"
    "{% endfor %}</table></body></html>")

app = FastAPI()


def get_num_queries(queries):
    try:
        query_count = int(queries)
    except (ValueError, TypeError):
        return 1
    if query_count < 1:
        return 1
    if query_count > 500:
        return 500
    return query_count


@app.on_event("startup")
async def open_pool():
    size = int(os.environ.get("TFB_POOL", "10"))
    app.state.pool = await asyncpg.create_pool(os.environ["TFB_DATABASE_URL"], min_size=size,
                                               max_size=size)


@app.on_event("shutdown")
async def close_pool():
    await app.state.pool.close()


@app.get("/json")
async def json_serialization():
    return JSONResponse({"message": "Hello, World!"})


@app.get("/healthz")
async def healthz():
    return JSONResponse({"status": "ok"})


@app.get("/db")
async def single_database_query():
    row_id = randint(1, 10000)
    async with app.state.pool.acquire() as connection:
        row = await connection.fetchrow(READ_ROW_SQL, row_id)
    return JSONResponse({"id": row[0], "randomNumber": row[1]})


@app.get("/queries")
async def multiple_database_queries(queries=None):
    num_queries = get_num_queries(queries)
    row_ids = sample(range(1, 10001), num_queries)
    worlds = []
    async with app.state.pool.acquire() as connection:
        statement = await connection.prepare(READ_ROW_SQL)
        for row_id in row_ids:
            row = await statement.fetchrow(row_id)
            worlds.append({"id": row[0], "randomNumber": row[1]})
    return JSONResponse(worlds)


@app.get("/fortunes")
async def fortunes():
    async with app.state.pool.acquire() as connection:
        rows = await connection.fetch("SELECT * FROM Fortune")
    rows = [tuple(r) for r in rows]
    rows.append(ADDITIONAL_ROW)
    rows.sort(key=lambda row: row[1])
    return HTMLResponse(TEMPLATE.render(fortunes=rows))


@app.get("/updates")
async def database_updates(queries=None):
    num_queries = get_num_queries(queries)
    ids = sorted(sample(range(1, 10001), num_queries))  # sorted: no deadlock between requests
    numbers = [randint(1, 10000) for _ in ids]
    worlds = [{"id": row_id, "randomNumber": number} for row_id, number in zip(ids, numbers)]
    async with app.state.pool.acquire() as connection:
        statement = await connection.prepare(READ_ROW_SQL)
        for row_id in ids:
            await statement.fetchrow(row_id)
        await connection.executemany(WRITE_ROW_SQL, list(zip(numbers, ids)))
    return JSONResponse(worlds)


@app.get("/plaintext")
async def plaintext():
    return PlainTextResponse(b"Hello, World!")


def main():
    import uvicorn

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--db", default=os.environ.get("DATABASE_URL"),
                    help="postgresql:// URL (default: $DATABASE_URL)")
    ap.add_argument("--pool", type=int, default=10, help="asyncpg pool size (default 10)")
    ap.add_argument("--log-level", default="warning")
    args = ap.parse_args()
    if not args.db:
        ap.error("--db or DATABASE_URL is required")
    os.environ["TFB_DATABASE_URL"] = args.db
    os.environ["TFB_POOL"] = str(args.pool)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False,
                workers=1)


if __name__ == "__main__":
    main()
