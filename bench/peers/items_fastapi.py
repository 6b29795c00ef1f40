"""The items API in FastAPI: the twin crest reproduces, for differential tests and benchmarks.

Written for Debian's python3-fastapi (0.92, pydantic v1). Items live in SQLite (stdlib sqlite3)
at $ITEMS_DB, or --db PATH when run as a script, default ./items_fastapi.db; tags are JSON text.

    /usr/bin/python3 -m uvicorn items_fastapi:app --app-dir bench/peers --host 127.0.0.1 --port P
    /usr/bin/python3 bench/peers/items_fastapi.py --port P --db PATH

Known difference from FastAPI on pydantic v2 (and from crest): pydantic v1 coerces a numeric
string to a float ("10" -> 10.0) and a number to a string (123 -> "123").
"""

import argparse
import json
import os
import sqlite3
import threading
from typing import List

from fastapi import FastAPI, HTTPException, Query, Response
from items_models import Item, ItemIn, ItemPatch  # a sibling module: the same models for both peers

DEFAULT_DB = "./items_fastapi.db"



class Store:
    """One SQLite connection shared by uvicorn's threadpool, serialized by a lock."""

    COLUMNS = "id, name, description, price, tax, tags"

    def __init__(self):
        self.lock = threading.Lock()
        self.db = None

    def open(self, path):
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " name TEXT NOT NULL, description TEXT, price REAL NOT NULL, tax REAL,"
            " tags TEXT NOT NULL DEFAULT '[]')"
        )

    @staticmethod
    def row_to_item(row):
        return {
            "id": row[0],
            "name": row[1],
            "description": row[2],
            "price": row[3],
            "tax": row[4],
            "tags": json.loads(row[5]),
        }

    def get(self, item_id):
        with self.lock:
            row = self.db.execute(
                f"SELECT {self.COLUMNS} FROM items WHERE id = ?", (item_id,)
            ).fetchone()
        return self.row_to_item(row) if row else None

    def list(self, offset, limit):
        with self.lock:
            rows = self.db.execute(
                f"SELECT {self.COLUMNS} FROM items ORDER BY id LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
        return [self.row_to_item(r) for r in rows]

    def create(self, f):
        with self.lock:
            cur = self.db.execute(
                "INSERT INTO items (name, description, price, tax, tags) VALUES (?, ?, ?, ?, ?)",
                (f["name"], f["description"], f["price"], f["tax"], json.dumps(f["tags"])),
            )
            item_id = cur.lastrowid
        return {"id": item_id, **f}

    def update(self, item_id, fields):
        """Sets `fields` on item item_id; the stored item, or None if there is none."""
        if "tags" in fields:
            fields = {**fields, "tags": json.dumps(fields["tags"])}
        with self.lock:
            if fields:
                sets = ", ".join(f"{k} = ?" for k in fields)
                self.db.execute(
                    f"UPDATE items SET {sets} WHERE id = ?", (*fields.values(), item_id)
                )
            row = self.db.execute(
                f"SELECT {self.COLUMNS} FROM items WHERE id = ?", (item_id,)
            ).fetchone()
        return self.row_to_item(row) if row else None

    def delete(self, item_id):
        with self.lock:
            return self.db.execute("DELETE FROM items WHERE id = ?", (item_id,)).rowcount > 0


store = Store()
app = FastAPI(title="items (FastAPI twin of crest)")


@app.on_event("startup")
def open_store():
    store.open(os.environ.get("ITEMS_DB") or DEFAULT_DB)


def not_found():
    return HTTPException(status_code=404, detail="Item not found")


@app.get("/json")
def hello():
    return {"message": "Hello, World!"}


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.post("/items", response_model=Item, status_code=201)
def create_item(item: ItemIn, response: Response):
    stored = store.create(item.dict())
    response.headers["Location"] = f"/items/{stored['id']}"
    return stored


@app.get("/items", response_model=List[Item])
def list_items(offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000)):
    return store.list(offset, limit)


@app.get("/items/{item_id}", response_model=Item)
def read_item(item_id: int):
    item = store.get(item_id)
    if item is None:
        raise not_found()
    return item


@app.put("/items/{item_id}", response_model=Item)
def replace_item(item_id: int, item: ItemIn):
    stored = store.update(item_id, item.dict())
    if stored is None:
        raise not_found()
    return stored


@app.patch("/items/{item_id}", response_model=Item)
def patch_item(item_id: int, patch: ItemPatch):
    stored = store.update(item_id, patch.dict(exclude_unset=True))
    if stored is None:
        raise not_found()
    return stored


@app.delete("/items/{item_id}", status_code=204, response_class=Response)
def delete_item(item_id: int):
    if not store.delete(item_id):
        raise not_found()
    return Response(status_code=204)


def main():
    import uvicorn

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--db", default=os.environ.get("ITEMS_DB") or DEFAULT_DB)
    ap.add_argument("--log-level", default="warning")
    args = ap.parse_args()
    os.environ["ITEMS_DB"] = args.db
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
