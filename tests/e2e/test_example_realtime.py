"""examples/realtime.c (issue 18): streamed responses on real sockets. A body of any size is
chunked for HTTP/1.1 and close-delimited for HTTP/1.0 and arrives whole; a pipelined request is
answered after the stream; a slow reader holds the producer back, so the server's resident memory
does not follow the body's size; a reader that stops reading is dropped after the body timeout
and the server goes on; Server-Sent Events carry ids, heartbeats and the retry field, and a
reconnecting client's Last-Event-ID resumes after that id."""
import http.client
import os
import socket
import subprocess
import time

import pytest

from conftest import Server, clean_env, free_port, rss_bytes

EXAMPLE = os.path.join(os.environ.get("CREST_BUILD", "build"), "examples", "realtime")


def pattern(n, at=0):
    return bytes((ord("a") + (at + i) % 26) for i in range(n))


def start(tmp_path, *flags):
    if not os.path.exists(EXAMPLE):
        pytest.fail(f"{EXAMPLE} is not built (make build builds the examples)")
    port = free_port()
    proc = subprocess.Popen(
        [EXAMPLE, "--host", "127.0.0.1", "--port", str(port), "--workers", "1", *flags],
        cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = Server(proc, port, tmp_path)
    assert server.wait_ready(), f"the example did not start: {server.stderr}"
    return server


@pytest.fixture
def realtime(tmp_path):
    server = start(tmp_path, "--tick-ms", "50", "--heartbeat-ms", "20")
    yield server
    assert server.stop() == 0



def test_a_streamed_body_arrives_whole_and_chunked(realtime):
    conn = http.client.HTTPConnection("127.0.0.1", realtime.port, timeout=10)
    conn.request("GET", "/bytes/1000003")
    r = conn.getresponse()
    assert r.status == 200
    assert r.getheader("Transfer-Encoding") == "chunked"
    assert r.getheader("Content-Length") is None
    assert r.read() == pattern(1000003)
    conn.request("GET", "/json")  # the same connection goes on
    assert conn.getresponse().read() == b'{"message":"Hello, World!"}'
    conn.close()


def test_http10_gets_the_body_until_the_close(realtime):
    with socket.create_connection(("127.0.0.1", realtime.port), timeout=10) as s:
        s.sendall(b"GET /bytes/70000 HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head and b"Connection: close" in head
    assert body == pattern(70000)


def test_head_of_a_stream_has_no_body(realtime):
    with realtime.conn() as c:
        r = c.request(b"HEAD /bytes/100 HTTP/1.1\r\nHost: x\r\n\r\n", head_only=True)
        assert r.status == 200
        c.send(b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().status == 200


def test_a_request_pipelined_after_a_stream_is_answered_after_it(realtime):
    with socket.create_connection(("127.0.0.1", realtime.port), timeout=10) as s:
        s.sendall(b"GET /bytes/200000 HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while not data.endswith(b'{"message":"Hello, World!"}'):
            chunk = s.recv(65536)
            assert chunk, "closed before the second response"
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    body = b""
    while True:  # chunk-size CRLF data CRLF ... 0 CRLF CRLF
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert rest.startswith(b"\r\n")
            rest = rest[2:]
            break
        body, rest = body + rest[:size], rest[size + 2:]
    assert body == pattern(200000)
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")  # then, and only then, the second response


def test_a_slow_reader_of_64_mib_does_not_grow_the_server(realtime):
    pid = realtime.proc.pid
    conn = http.client.HTTPConnection("127.0.0.1", realtime.port, timeout=10)
    conn.request("GET", "/bytes/100000")  # warm the worker: its io block, its first buffers
    assert len(conn.getresponse().read()) == 100000
    conn.close()
    before = rss_bytes(pid)
    s = socket.create_connection(("127.0.0.1", realtime.port), timeout=10)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(b"GET /bytes/67108864 HTTP/1.1\r\nHost: x\r\n\r\n")
    got, peak = 0, before
    deadline = time.monotonic() + 60
    while got < 67108864 + 2000 and time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += len(chunk)
        if got < 8 << 20:
            time.sleep(0.002)  # slow at first: the server must wait, not buffer
        peak = max(peak, rss_bytes(pid))
    s.close()
    assert got > 67108864
    assert peak - before < 1 << 20, f"RSS grew {peak - before} bytes for a 64 MiB stream"


def test_a_reader_that_stops_reading_is_dropped_after_the_body_timeout(tmp_path):
    server = start(tmp_path, "--timeout-body", "1")
    try:
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.sendall(b"GET /bytes/1000000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(2.5)  # read nothing: the server's writes stall, its timeout passes
        # what the kernels still hold arrives, then the end: the server closed long before 1 GB
        s.settimeout(5)
        total = 0
        try:
            while chunk := s.recv(1 << 20):
                total += len(chunk)
        except ConnectionResetError:
            pass
        assert total < 100 << 20  # dropped long before the gigabyte
        assert server.get("/json").status == 200
    finally:
        assert server.stop() == 0


def read_events(sock, n):
    """The first n events (dicts of their fields) and the comments seen before them."""
    buf, events, comments = b"", [], 0
    while len(events) < n:
        chunk = sock.recv(4096)
        assert chunk, "the stream ended early"
        buf += chunk
        while b"\n\n" in buf:
            block, buf = buf.split(b"\n\n", 1)
            fields = {}
            for line in block.decode().split("\n"):
                if line.startswith(":"):
                    comments += 1
                elif line:
                    k, _, v = line.partition(": ")
                    fields[k] = v
            if "id" in fields:
                events.append(fields)
            elif "retry" in fields:
                events.append(fields)
    return events, comments


def sse_request(port, extra=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /events HTTP/1.0\r\nAccept: text/event-stream\r\n" + extra + b"\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert b"200" in head.split(b"\r\n")[0] and b"text/event-stream" in head
    return s


def test_server_sent_events_with_ids_heartbeats_and_retry(realtime):
    s = sse_request(realtime.port)
    events, comments = read_events(s, 4)
    s.close()
    assert events[0] == {"retry": "100"}
    assert [e["id"] for e in events[1:]] == ["1", "2", "3"]
    assert events[1]["event"] == "tick" and events[1]["data"] == '{"n":1}'
    assert comments >= 1  # heartbeats between the ticks


def test_last_event_id_resumes_after_it_and_count_ends_the_stream(realtime):
    with socket.create_connection(("127.0.0.1", realtime.port), timeout=10) as s:
        s.sendall(b"GET /events?count=2 HTTP/1.0\r\nLast-Event-ID: 7\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):  # count=2: the stream ends, HTTP/1.0 closes
            data += chunk
    ids = [line[4:] for line in data.decode().split("\n") if line.startswith("id: ")]
    assert ids == ["8", "9"]
