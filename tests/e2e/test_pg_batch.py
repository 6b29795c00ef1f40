"""The PostgreSQL store's reads by id in one event-loop turn go out as one statement
(crest_get_many, WHERE id = ANY($1)): every request still gets its own item, a missing id its
own 404, a repeated id its item twice, and the server runs fewer statements than there were
reads. crest is stopped (SIGSTOP) while the requests are sent, so that they are all waiting
when it resumes and its worker reads them in one turn."""

import re
import signal

import pg
from conftest import Conn

ITEMS = 30
MISSING = 999_999


def query_count(port):
    text = pg.call(port, "GET", "/metrics").body.decode()
    m = re.search(r'^crest_db_query_duration_seconds_count\{db="store"\} (\d+)$', text, re.M)
    assert m, "no crest_db_query_duration_seconds_count in /metrics"
    return int(m.group(1))


def test_reads_of_one_turn_share_a_statement_and_each_gets_its_own_answer(start_crest, pg_url):
    srv = pg.wait_store_up(start_crest("--db", pg_url, workers=1))
    ids = []
    for i in range(ITEMS):
        r = pg.call(srv.port, "POST", "/items", {"name": f"item {i}", "price": i + 1})
        assert r.status == 201, r
        ids.append(r.json()["id"])
    wanted = ids + ids[:10] + [MISSING] * 5  # repeats and misses among them
    before = query_count(srv.port)
    conns = [Conn(srv.port) for _ in wanted]
    try:
        srv.proc.send_signal(signal.SIGSTOP)
        try:
            for c, item_id in zip(conns, wanted):
                c.send(pg.item_request("GET", f"/items/{item_id}"))
        finally:
            srv.proc.send_signal(signal.SIGCONT)
        answers = [c.read_response() for c in conns]
    finally:
        for c in conns:
            c.close()
    for item_id, r in zip(wanted, answers):
        if item_id == MISSING:
            assert (r.status, r.json()) == (404, {"detail": "Item not found"})
        else:
            assert r.status == 200, r
            body = r.json()
            assert body["id"] == item_id
            assert body["name"] == f"item {ids.index(item_id)}"
    statements = query_count(srv.port) - before
    assert 0 < statements < len(wanted), statements
