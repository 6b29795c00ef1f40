"""Many concurrent keep-alive connections: 2,000 clients each get two answers on one connection,
driven from one thread with selectors, and the server stays healthy."""

import re
import resource
import selectors
import socket
import time

import pytest

from conftest import get

N_CONNS = 2000
DEADLINE = 25.0  # seconds for the whole exchange
JSON_BODY = b'{"message":"Hello, World!"}'
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.I)


@pytest.fixture
def many_fds():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = N_CONNS + 200
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {need}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def complete_response(buf):
    """(status, body, rest) once buf holds a whole response, else None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = buf[:end]
    m = CONTENT_LENGTH.search(head)
    length = int(m.group(1)) if m else 0
    if len(buf) < end + 4 + length:
        return None
    status = int(head[9:12])
    return status, buf[end + 4 : end + 4 + length], buf[end + 4 + length :]


def round_trip(socks, request, deadline):
    """Sends `request` on every socket, then reads one response from each; fails on any non-200,
    wrong body, EOF or the deadline."""
    sel = selectors.DefaultSelector()
    bufs = {}
    try:
        for s in socks:
            assert s.send(request) == len(request)  # tiny, into an empty send buffer
            sel.register(s, selectors.EVENT_READ)
            bufs[s] = b""
        pending = len(socks)
        while pending:
            left = deadline - time.monotonic()
            assert left > 0, f"{pending} of {len(socks)} responses missing at the deadline"
            for key, _ in sel.select(timeout=min(left, 1.0)):
                s = key.fileobj
                try:
                    chunk = s.recv(65536)
                except BlockingIOError:
                    continue
                assert chunk, f"connection closed with {bufs[s]!r} read"
                bufs[s] += chunk
                done = complete_response(bufs[s])
                if done:
                    status, body, rest = done
                    assert (status, body, rest) == (200, JSON_BODY, b""), bufs[s][:300]
                    sel.unregister(s)
                    pending -= 1
    finally:
        sel.close()


def test_2000_concurrent_keep_alive_connections(many_fds, start_crest):
    srv = start_crest(workers=2)
    deadline = time.monotonic() + DEADLINE
    socks = []
    try:
        for _ in range(N_CONNS):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.setblocking(False)
            socks.append(s)
        round_trip(socks, get("/json"), deadline)
        round_trip(socks, get("/json?again=1"), deadline)  # the same connections, kept alive
        assert srv.proc.poll() is None
        r = srv.get("/healthz")
        assert r.status == 200 and r.body == b'{"status":"ok"}'
    finally:
        for s in socks:
            s.close()
    time.sleep(0.2)
    assert srv.get("/json").body == JSON_BODY  # healthy after 2,000 closes too


def test_sigterm_with_2000_idle_connections_exits_0_quickly(many_fds, start_crest):
    srv = start_crest(workers=2)
    deadline = time.monotonic() + DEADLINE
    socks = []
    try:
        for _ in range(N_CONNS):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.setblocking(False)
            socks.append(s)
        round_trip(socks, get("/json"), deadline)
        t0 = time.monotonic()
        srv.signal()
        assert srv.wait(timeout=3) == 0
        assert time.monotonic() - t0 <= 3.0
        open_ = 0
        for s in socks:
            s.settimeout(1)
            try:
                if s.recv(1) != b"":
                    open_ += 1
            except ConnectionResetError:
                pass
            except OSError:
                open_ += 1
        assert open_ == 0, f"{open_} connections still open after exit"
    finally:
        for s in socks:
            s.close()
