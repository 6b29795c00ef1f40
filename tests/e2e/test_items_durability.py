"""kill -9 durability: a 201 is sent only after the transaction committed, so a server killed in the
middle of a write burst from several clients loses no acknowledged item, and the database file
passes PRAGMA integrity_check afterwards (issue: items service, storage). Run on both stores (db_flags):
with PostgreSQL the 201 waits for the COMMIT on the server, so the same holds; the integrity check
of the file is SQLite's alone."""
import json
import signal
import sqlite3
import threading
import time

from conftest import Conn
from pg import wait_store_up

CLIENTS = 6
BURST_SECONDS = 1.0


def post(conn, name):
    body = json.dumps({"name": name, "price": 1.5, "tags": ["burst"]}).encode()
    conn.send(b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    return conn.read_response()


def writer(port, client, acked, stop):
    """Posts items until the server dies; records every acknowledged (id, name)."""
    n = 0
    try:
        with Conn(port, timeout=5) as c:
            while not stop.is_set():
                name = f"client{client}-{n}"
                r = post(c, name)
                assert r.status == 201, r
                item = r.json()
                assert item["name"] == name
                acked.append((item["id"], name))
                n += 1
    except (OSError, AssertionError):
        return  # the server was killed mid-request: that write was never acknowledged


def test_sigkill_mid_burst_loses_no_acknowledged_item(start_crest, tmp_path, db_flags,
                                                     db_backend):
    srv = wait_store_up(start_crest(*db_flags, workers=2))
    acked, stop = [], threading.Event()
    threads = [threading.Thread(target=writer, args=(srv.port, i, acked, stop))
               for i in range(CLIENTS)]
    for t in threads:
        t.start()
    time.sleep(BURST_SECONDS)
    srv.proc.send_signal(signal.SIGKILL)  # by pid, while the writers are still writing
    srv.proc.wait(10)
    srv.started = False  # killed on purpose: no clean exit expected
    stop.set()
    for t in threads:
        t.join(10)
    assert len(acked) > 50, f"the burst acknowledged only {len(acked)} writes"

    if db_backend == "sqlite":  # the file's own check; PostgreSQL has no equivalent to run
        with sqlite3.connect(tmp_path / "crest.db") as check:
            assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    again = wait_store_up(start_crest(*db_flags, workers=2))
    with again.conn() as c:
        for item_id, name in acked:
            r = c.request(f"GET /items/{item_id} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            assert r.status == 200, (item_id, r)
            assert r.json()["name"] == name
    ids = [i for i, _ in acked]
    assert len(set(ids)) == len(ids), "an id was acknowledged twice"
