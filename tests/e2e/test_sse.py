"""Server-Sent Events with crest_sse (issue 18) on examples/realtime, on real sockets: the stream
is chunked for HTTP/1.1 and every chunk is one whole event; HEAD gets the head only; idle
subscribers hold no io block and no buffer (under 256 bytes each, by the "sse" tag); the server
ends streams at shutdown with the last chunk. (A reader too slow is tested on a WebSocket, whose
queue a client can fill fast: tests/e2e/test_websocket.py.)"""
import os
import socket
import subprocess
import time

import pytest

from conftest import Server, clean_env, free_port
from test_websocket import debug_memory

EXAMPLE = os.path.join(os.environ.get("CREST_BUILD", "build"), "examples", "realtime")


def start(tmp_path, *flags):
    port = free_port()
    proc = subprocess.Popen(
        [EXAMPLE, "--host", "127.0.0.1", "--port", str(port), "--workers", "1", *flags],
        cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = Server(proc, port, tmp_path)
    assert server.wait_ready(), f"the example did not start: {server.stderr}"
    return server


def open_stream(port, method="GET", extra=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(method.encode() + b" /events HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        assert chunk, head
        head += chunk
    return s, head.decode()


def read_chunk(s):
    size = b""
    while not size.endswith(b"\r\n"):
        size += s.recv(1)
    n = int(size, 16)
    data = b""
    while len(data) < n + 2:
        data += s.recv(n + 2 - len(data))
    return data[:-2]


def test_each_chunk_is_one_whole_event(tmp_path):
    server = start(tmp_path, "--tick-ms", "30", "--heartbeat-ms", "5000")
    try:
        s, head = open_stream(server.port, extra=b"Last-Event-ID: 41\r\n")
        assert "Transfer-Encoding: chunked" in head and "text/event-stream" in head
        assert "Cache-Control: no-store" in head
        assert read_chunk(s) == b"retry: 60\n\n"
        assert read_chunk(s) == b'id: 42\nevent: tick\ndata: {"n":42}\n\n'
        assert read_chunk(s) == b'id: 43\nevent: tick\ndata: {"n":43}\n\n'
        s.close()
    finally:
        assert server.stop() == 0


def test_head_of_an_event_stream_has_no_body(tmp_path):
    server = start(tmp_path)
    try:
        s, head = open_stream(server.port, "HEAD")
        assert head.startswith("HTTP/1.1 200") and "text/event-stream" in head
        s.settimeout(5)
        assert s.recv(100) == b""  # no body, and the stream is over
        s.close()
    finally:
        assert server.stop() == 0


def test_idle_subscribers_hold_no_buffer(tmp_path):
    server = start(tmp_path, "--tick-ms", "600000", "--heartbeat-ms", "600000")
    try:
        before = debug_memory(server.port)
        socks = [open_stream(server.port)[0] for _ in range(200)]
        time.sleep(0.2)
        after = debug_memory(server.port)
        assert after["io"]["live_blocks"] - before["io"]["live_blocks"] < 10
        per_conn = (after["sse"]["live_bytes"] - before["sse"]["live_bytes"]) / 200
        assert 0 < per_conn <= 256, per_conn
        for s in socks:
            s.close()
    finally:
        assert server.stop() == 0


def test_shutdown_ends_streams_with_the_last_chunk(tmp_path):
    server = start(tmp_path, "--tick-ms", "600000", "--heartbeat-ms", "600000")
    s, _ = open_stream(server.port)
    assert read_chunk(s) == b"retry: 1200000\n\n"
    server.proc.terminate()
    assert read_chunk(s) == b""  # the last chunk: the body is complete
    assert server.proc.wait(10) == 0  # a second SIGTERM (stop()) would force the exit
    s.close()


def test_a_hub_publishes_one_event_to_every_subscriber_on_every_worker(tmp_path):
    """/events/news joins each stream to a crest_sse_hub; POST /events/news publishes its body
    once: every subscriber, whichever of the two workers holds it, gets the same event."""
    srv = start(tmp_path, "--workers", "2")
    subs = []
    try:
        for _ in range(8):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.sendall(b"GET /events/news HTTP/1.1\r\nHost: x\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(1)
            assert head.startswith(b"HTTP/1.1 200") and b"text/event-stream" in head, head
            subs.append(s)
        time.sleep(0.2)  # the joins reach every worker's hub slot
        c = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        c.sendall(b"POST /events/news HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                  b"Content-Length: 9\r\nConnection: close\r\n\r\nhello all")
        answer = b""
        while chunk := c.recv(4096):
            answer += chunk
        c.close()
        assert answer.startswith(b"HTTP/1.1 202") and b'{"published":true}' in answer, answer
        for s in subs:
            got = b""
            while b"data: hello all" not in got:
                chunk = s.recv(4096)
                assert chunk, got
                got += chunk
            assert b"event: news\n" in got
    finally:
        for s in subs:
            s.close()
        assert srv.stop() == 0
