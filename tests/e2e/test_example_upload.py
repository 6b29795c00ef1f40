"""examples/realtime.c's files and uploads (issue 18) on real sockets: POST /upload takes a body of
any size as a stream (Content-Length, chunked, 100-continue) and its SHA-256 agrees with hashlib's;
the route's own limit answers 413 and closes; a client that leaves mid-upload ends the upload (its
consumer's end runs) and leaves nothing behind; a consumer that pauses holds the client back; the
server's resident memory stays flat during a 256 MiB upload; POST /upload/form parses
multipart/form-data as it arrives (400/413 for bad or oversized forms); GET /files/... is the
static mount of --root, with ranges and validators."""
import hashlib
import http.client
import json
import os
import socket
import struct
import threading
import time

import pytest

from test_example_realtime import start

from conftest import rss_bytes


@pytest.fixture
def files(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    data = os.urandom(3_000_001)
    (root / "f.bin").write_bytes(data)
    server = start(tmp_path, "--root", str(root), "--upload-limit", str(64 << 20),
                   "--timeout-body", "2")
    server.data = data
    yield server
    assert server.stop() == 0


def post(port, path, body, headers=None, chunked=False):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    if chunked:
        def pieces():  # irregular pieces, so chunk sizes vary
            at, step = 0, 1
            while at < len(body):
                yield body[at:at + step]
                at += step
                step = step * 7 % 65521 + 1
        conn.request("POST", path, body=pieces(), headers=headers or {}, encode_chunked=True)
    else:
        conn.request("POST", path, body=body, headers=headers or {})
    r = conn.getresponse()
    out = (r.status, r.getheader("Connection"), r.read())
    conn.close()
    return out


def stats(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/upload/stats")
    out = json.loads(conn.getresponse().read())
    conn.close()
    return out


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def recv_response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
            while len(body) < n:
                chunk = s.recv(65536)
                if not chunk:
                    break
                body += chunk
    return head, body


def test_upload_with_content_length_hashes_like_hashlib(files):
    body = files.data
    status, _, out = post(files.port, "/upload", body)
    assert status == 200
    assert json.loads(out) == {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    for n in (0, 1, 55, 56, 63, 64, 65, 119, 120):  # SHA-256's padding edges
        status, _, out = post(files.port, "/upload", body[:n])
        assert json.loads(out)["sha256"] == hashlib.sha256(body[:n]).hexdigest()


def test_upload_chunked_hashes_like_hashlib(files):
    body = files.data[:1_234_567]
    status, conn_header, out = post(files.port, "/upload", body, chunked=True)
    assert status == 200 and conn_header is None
    assert json.loads(out) == {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()}


def test_upload_answers_100_continue_then_the_result(files):
    body = b"x" * 200_000
    with socket.create_connection(("127.0.0.1", files.port), timeout=10) as s:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body))
        assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(body)
        head, out = recv_response(s)
        assert head.startswith(b"HTTP/1.1 200 ")
        assert json.loads(out)["sha256"] == hashlib.sha256(body).hexdigest()
        # the connection goes on: the body was read to its end
        s.sendall(b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n")
        head, out = recv_response(s)
        assert out == b'{"message":"Hello, World!"}'


def test_a_body_past_the_route_limit_is_413_without_100_continue(files):
    with socket.create_connection(("127.0.0.1", files.port), timeout=10) as s:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  b"Content-Length: %d\r\n\r\n" % ((64 << 20) + 1))
        head, out = recv_response(s)
        assert head.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in head
        assert json.loads(out) == {"detail": "Request body too large"}


def test_a_chunked_body_past_the_route_limit_is_413_and_closed(files):
    before = stats(files)
    with socket.create_connection(("127.0.0.1", files.port), timeout=10) as s:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        piece = b"%x\r\n%s\r\n" % (1 << 20, b"y" * (1 << 20))
        try:
            for _ in range(80):  # 80 MiB against a 64 MiB limit
                s.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed without reading the rest, as it should be
        head, out = recv_response(s)
        assert head.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in head
        assert json.loads(out) == {"detail": "Request body too large"}
    assert wait_for(lambda: stats(files)["ended"] == before["ended"] + 1)


def test_a_bad_chunked_body_is_400(files):
    with socket.create_connection(("127.0.0.1", files.port), timeout=10) as s:
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\nzz\r\n")
        head, out = recv_response(s)
        assert head.startswith(b"HTTP/1.1 400 ")
        assert json.loads(out) == {"detail": "Invalid chunked body"}


def test_clients_leaving_mid_upload_end_their_uploads_and_free_everything(files):
    post(files.port, "/upload", b"warm" * 100_000)  # io blocks and buffers exist from here on
    before, rss0 = stats(files), rss_bytes(files.proc.pid)
    for i in range(30):
        s = socket.create_connection(("127.0.0.1", files.port), timeout=10)
        chunked = i % 2 == 1
        s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\n" +
                  (b"Transfer-Encoding: chunked\r\n\r\n8000\r\n" if chunked
                   else b"Content-Length: 50000000\r\n\r\n"))
        s.sendall(b"z" * 300_000)
        s.close()
    assert wait_for(lambda: stats(files)["ended"] == before["ended"] + 30)
    after = stats(files)
    assert after["begun"] - before["begun"] == 30 and after["done"] == before["done"]
    assert rss_bytes(files.proc.pid) - rss0 < 1 << 20
    status, _, out = post(files.port, "/upload", b"still here")  # and the server goes on
    assert status == 200


def test_a_slow_consumer_holds_the_client_back(files):
    # the consumer pauses 100 ms after each piece: in a second it takes a few hundred kB, so the
    # client can send no more than what the kernel's socket buffers hold besides
    total = 48 << 20
    s = socket.create_connection(("127.0.0.1", files.port), timeout=10)
    s.sendall(b"POST /upload?slow_ms=100 HTTP/1.1\r\nHost: x\r\n"
              b"Content-Length: %d\r\n\r\n" % total)
    s.setblocking(False)
    sent, piece, deadline = 0, b"p" * 65536, time.monotonic() + 1.5
    while time.monotonic() < deadline and sent < total:
        try:
            sent += s.send(piece)
        except BlockingIOError:
            time.sleep(0.01)
    assert sent < 24 << 20, f"the client sent {sent} bytes: nothing held it back"
    # leaving while paused (a reset: a FIN would first deliver the megabytes queued in the
    # kernel, at the consumer's pace): the upload ends at its next resume
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    assert wait_for(lambda: stats(files)["ended"] >= 1)
    body = os.urandom(300_000)  # a slow upload that finishes is whole
    status, _, out = post(files.port, "/upload?slow_ms=5", body)
    assert json.loads(out)["sha256"] == hashlib.sha256(body).hexdigest()


def test_memory_stays_flat_during_a_256_mib_upload(tmp_path):
    files = start(tmp_path)  # the example's default limit: 4 GiB
    try:
        upload_256_mib(files)
    finally:
        assert files.stop() == 0


def upload_256_mib(files):
    post(files.port, "/upload", b"w" * 2_000_000)
    rss0 = rss_bytes(files.proc.pid)
    peak = [rss0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_bytes(files.proc.pid))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    piece = bytes(range(256)) * 4096  # 1 MiB
    total = 256 << 20
    h = hashlib.sha256()
    conn = http.client.HTTPConnection("127.0.0.1", files.port, timeout=60)
    conn.putrequest("POST", "/upload")
    conn.putheader("Content-Length", str(total))
    conn.endheaders()
    for _ in range(total // len(piece)):
        conn.send(piece)
        h.update(piece)
    r = conn.getresponse()
    out = json.loads(r.read())
    done.set()
    sampler.join()
    conn.close()
    assert out == {"bytes": total, "sha256": h.hexdigest()}
    assert peak[0] - rss0 <= 1 << 20, f"RSS grew {peak[0] - rss0} bytes during the upload"


def form_body(boundary, parts):
    out = b""
    for name, filename, data in parts:
        disp = b'form-data; name="%s"' % name
        if filename is not None:
            disp += b'; filename="%s"' % filename
        out += b"--%s\r\nContent-Disposition: %s\r\n" % (boundary, disp)
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + data + b"\r\n"
    return out + b"--%s--\r\n" % boundary


def test_form_parts_are_hashed_like_hashlib(files):
    a, b = os.urandom(1_000_000), b"a note"
    body = form_body(b"----b0undary", [(b"file", b"a.bin", a), (b"note", None, b),
                                       (b"file", b"b.bin", b"")])
    ct = {"Content-Type": "multipart/form-data; boundary=----b0undary"}
    for chunked in (False, True):
        status, _, out = post(files.port, "/upload/form", body, ct, chunked=chunked)
        assert status == 200
        assert json.loads(out) == {"parts": [
            {"name": "file", "filename": "a.bin", "bytes": len(a),
             "sha256": hashlib.sha256(a).hexdigest()},
            {"name": "note", "filename": None, "bytes": len(b),
             "sha256": hashlib.sha256(b).hexdigest()},
            {"name": "file", "filename": "b.bin", "bytes": 0,
             "sha256": hashlib.sha256(b"").hexdigest()}]}


def test_bad_forms_are_answered_with_a_detail(files):
    ct = {"Content-Type": "multipart/form-data; boundary=bb"}
    good = form_body(b"bb", [(b"f", b"x", b"1234")])
    cases = [
        ({"Content-Type": "application/json"}, good, 400,
         "Expected multipart/form-data with a boundary"),
        ({"Content-Type": "multipart/form-data"}, good, 400,
         "Expected multipart/form-data with a boundary"),
        (ct, good[:-10], 400, "Multipart body truncated"),
        (ct, b"--bbX\r\n", 400, "Malformed multipart delimiter"),
        (ct, b"--bb\r\nContent-Type: text/plain\r\n\r\nx\r\n--bb--", 400,
         "A part has no form-data name"),
        (ct, form_body(b"bb", [(b"f%d" % i, None, b"v") for i in range(17)]), 413,
         "Too many parts in the form"),
        (ct, form_body(b"bb", [(b"big", None, b"v" * 70_000)]), 413, "A form field is too large"),
    ]
    for headers, body, status, detail in cases:
        got, _, out = post(files.port, "/upload/form", body, headers)
        assert (got, json.loads(out)) == (status, {"detail": detail})


def test_files_are_the_static_mount_of_root(files):
    conn = http.client.HTTPConnection("127.0.0.1", files.port, timeout=10)
    conn.request("GET", "/files/f.bin")
    r = conn.getresponse()
    assert r.status == 200 and r.read() == files.data
    etag = r.getheader("ETag")
    assert etag and r.getheader("Accept-Ranges") == "bytes"
    conn.request("GET", "/files/f.bin", headers={"Range": "bytes=10-19"})
    r = conn.getresponse()
    assert r.status == 206 and r.read() == files.data[10:20]
    assert r.getheader("Content-Range") == f"bytes 10-19/{len(files.data)}"
    conn.request("GET", "/files/f.bin", headers={"If-None-Match": etag})
    r = conn.getresponse()
    assert r.status == 304 and r.read() == b""
    conn.request("GET", "/files/../f.bin")
    r = conn.getresponse()
    assert r.status == 404
    r.read()
    conn.close()
