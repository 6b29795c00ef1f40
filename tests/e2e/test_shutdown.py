"""Graceful shutdown on SIGTERM/SIGINT: stop accepting, finish requests in flight (answering them
with Connection: close), close idle connections, exit 0; a drain that outlives
--timeout-graceful-shutdown is cut short."""

import signal
import socket
import subprocess
import time

import pytest

from conftest import get

PARTIAL = b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_with_idle_connections_exits_0_and_closes_them(start_crest, sig):
    srv = start_crest()
    idle = [srv.conn() for _ in range(5)]
    for c in idle:
        assert c.request(get("/json")).status == 200
    fresh = [srv.conn() for _ in range(2)]  # connected, never sent a byte
    time.sleep(0.1)  # let the workers accept the fresh ones
    t0 = time.monotonic()
    srv.signal(sig)
    assert srv.wait(timeout=2) == 0
    assert time.monotonic() - t0 <= 2.0
    for c in idle + fresh:
        closed, extra = c.wait_closed(timeout=1)
        assert closed and extra == b""
        c.close()


@pytest.mark.parametrize(
    "first,rest",
    [
        (PARTIAL, b"67890"),  # mid-body
        (b"GET /json HTTP/1.1\r\nHo", b"st: x\r\n\r\n"),  # mid-head
    ],
    ids=["mid_body", "mid_head"],
)
def test_request_in_flight_at_sigterm_is_answered_with_close(start_crest, first, rest):
    srv = start_crest()
    with srv.conn() as c:
        c.send(first)
        time.sleep(0.3)  # the server has read the first part
        srv.signal(signal.SIGTERM)
        time.sleep(0.2)
        assert srv.proc.poll() is None, "exited with a request in flight"
        c.send(rest)
        r = c.read_response()
        assert r.status in (200, 405), r
        assert (r.header("Connection") or "").lower() == "close", r
        closed, _ = c.wait_closed(timeout=2)
        assert closed
    assert srv.wait(timeout=3) == 0


def test_pipelined_requests_after_sigterm_stop_at_the_first_answer(start_crest):
    srv = start_crest()
    with srv.conn() as c:
        c.send(PARTIAL)
        time.sleep(0.2)
        srv.signal(signal.SIGTERM)
        time.sleep(0.2)
        c.send(b"67890" + get("/json"))
        r = c.read_response()
        assert r.status == 405 and (r.header("Connection") or "").lower() == "close", r
        closed, extra = c.wait_closed(timeout=2)
        assert closed and extra == b"", f"answered past Connection: close: {extra[:200]!r}"
    assert srv.wait(timeout=3) == 0


def test_new_connections_are_refused_after_sigterm(start_crest):
    srv = start_crest()
    with srv.conn() as held:
        held.send(PARTIAL)  # keeps the server draining
        time.sleep(0.2)
        srv.signal(signal.SIGTERM)
        time.sleep(0.3)
        assert srv.proc.poll() is None
        for _ in range(5):
            try:
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=2)
            except OSError:
                continue  # refused: what we want
            with s:
                s.settimeout(2)
                try:
                    s.sendall(get("/json"))
                    data = s.recv(65536)
                except OSError:
                    data = b""
                assert data == b"", f"a connection after SIGTERM was served: {data[:200]!r}"
        held.send(b"67890")
        assert held.read_response().status == 405
    assert srv.wait(timeout=3) == 0


def test_graceful_shutdown_timeout_cuts_a_stalled_request(start_crest):
    srv = start_crest("--timeout-graceful-shutdown", "1")
    with srv.conn() as c:
        c.send(PARTIAL)  # and never the rest
        time.sleep(0.2)
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        assert srv.wait(timeout=5) == 0
        elapsed = time.monotonic() - t0
        assert 0.8 <= elapsed <= 3.0, f"exited {elapsed:.2f} s after SIGTERM"
        closed, _ = c.wait_closed(timeout=1)
        assert closed


def test_exit_follows_the_last_response_when_the_client_keeps_its_socket(start_crest):
    """Once the request in flight is answered (with Connection: close) nothing is left to drain:
    a client that reads the answer but keeps its socket open must not hold the exit for the
    keep-alive timeout (30 s here) or the whole graceful-shutdown timeout (5 s here)."""
    srv = start_crest("--timeout-keep-alive", "30", "--timeout-graceful-shutdown", "5")
    with srv.conn() as c:
        c.send(PARTIAL)
        time.sleep(0.3)
        srv.signal(signal.SIGTERM)
        time.sleep(0.2)
        c.send(b"67890")
        r = c.read_response()
        assert r.status == 405 and (r.header("Connection") or "").lower() == "close", r
        t0 = time.monotonic()
        try:
            rc = srv.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pytest.fail("crest still running 3 s after answering its last request")
        assert rc == 0
        assert time.monotonic() - t0 <= 2.0
