"""Timeouts, with short values passed by flag: idle keep-alive, header (slowloris and silent
clients) and body."""

import threading
import time

from conftest import get


def test_idle_keep_alive_connection_is_closed_after_the_timeout(start_crest):
    srv = start_crest("--timeout-keep-alive", "0.5")
    with srv.conn() as c:
        assert c.request(get("/json")).status == 200
        t0 = time.monotonic()
        closed, extra = c.wait_closed(timeout=3)
        elapsed = time.monotonic() - t0
        assert closed, "idle connection still open after 3 s"
        assert extra == b"", f"an idle close sends nothing: {extra[:200]!r}"
        assert 0.4 <= elapsed <= 2.0, f"closed after {elapsed:.2f} s"


def test_keep_alive_timeout_restarts_with_each_request(start_crest):
    srv = start_crest("--timeout-keep-alive", "0.5")
    with srv.conn() as c:
        for _ in range(6):  # 1.2 s in all, more than twice the timeout
            assert c.request(get("/json")).status == 200
            time.sleep(0.2)
        assert c.request(get("/healthz")).status == 200


def test_slowloris_gets_408_and_close(start_crest):
    srv = start_crest("--timeout-header", "1")
    stop = threading.Event()
    with srv.conn() as c:
        c.send(b"GET /json HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()

        def drip():
            while not stop.wait(0.2):
                try:
                    c.sock.send(b"a")  # an endless header name, one byte at a time
                except OSError:
                    return

        dripper = threading.Thread(target=drip, daemon=True)
        dripper.start()
        try:
            r = c.read_response(timeout=4)
        finally:
            stop.set()
            dripper.join(2)
        elapsed = time.monotonic() - t0
        assert r.status == 408, r
        assert isinstance(r.json()["detail"], str)
        assert (r.header("Connection") or "").lower() == "close"
        assert 0.8 <= elapsed <= 3.0, f"408 after {elapsed:.2f} s"
        closed, _ = c.wait_closed(timeout=2)
        assert closed


def test_silent_fresh_connection_is_closed_without_a_response(start_crest):
    srv = start_crest("--timeout-header", "1", "--timeout-keep-alive", "30")
    with srv.conn() as c:
        t0 = time.monotonic()
        closed, extra = c.wait_closed(timeout=6)
        elapsed = time.monotonic() - t0
        assert closed, "a connection that never spoke is still open after 6 s"
        assert extra == b"", f"a never-spoken connection gets no response: {extra[:200]!r}"
        assert 0.8 <= elapsed <= 3.5, f"closed after {elapsed:.2f} s"
    assert srv.get("/healthz").status == 200


def test_stalled_body_gets_408_and_close(start_crest):
    srv = start_crest("--timeout-body", "0.5")
    with srv.conn() as c:
        c.send(b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"0123456789")
        t0 = time.monotonic()
        r = c.read_response(timeout=4)
        elapsed = time.monotonic() - t0
        assert r.status == 408, r
        assert isinstance(r.json()["detail"], str)
        assert (r.header("Connection") or "").lower() == "close"
        assert 0.4 <= elapsed <= 2.0, f"408 after {elapsed:.2f} s"
        closed, _ = c.wait_closed(timeout=2)
        assert closed


def test_slow_but_steady_body_is_not_cut_off(start_crest):
    srv = start_crest("--timeout-body", "0.5")
    with srv.conn() as c:
        c.send(b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n")
        for b in b"01234567":  # 8 x 0.2 s = 1.6 s in all, each gap under the timeout
            time.sleep(0.2)
            c.send(bytes([b]))
        r = c.read_response(timeout=3)
        assert r.status == 405, r


def test_partial_second_request_on_a_kept_alive_connection_gets_408(start_crest):
    srv = start_crest("--timeout-header", "1", "--timeout-keep-alive", "30")
    with srv.conn() as c:
        assert c.request(get("/json")).status == 200
        c.send(b"GET /json HTTP/1.1\r\nHo")
        t0 = time.monotonic()
        r = c.read_response(timeout=4)
        elapsed = time.monotonic() - t0
        assert r.status == 408, r
        assert (r.header("Connection") or "").lower() == "close"
        assert 0.8 <= elapsed <= 3.0, f"408 after {elapsed:.2f} s"


def test_header_timeout_runs_from_the_requests_first_byte_not_the_idle_start(start_crest):
    srv = start_crest("--timeout-header", "1", "--timeout-keep-alive", "5")
    with srv.conn() as c:
        assert c.request(get("/json")).status == 200
        time.sleep(0.8)  # idle: the keep-alive timeout applies, not the header one
        for part in (b"GET /json HTTP/1.1\r\n", b"Host: x\r\n", b"X-A: b\r\n", b"\r\n"):
            c.send(part)
            time.sleep(0.15)  # 0.6 s for the head, 1.4 s since the last response
        r = c.read_response(timeout=3)
        assert r.status == 200, r
