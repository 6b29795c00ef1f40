"""crest --static DIR (issue 18): files under /static/... on real sockets, sent with sendfile.
A 64 MiB file reaches several slow readers at once while the server's resident memory stays
where it was; a range and a conditional request are answered as RFC 9110 says; a request for
"..", a hidden name, or a symbolic link out of the root is a 404 that reveals nothing."""
import hashlib
import http.client
import os
import socket
import threading
import time

import pytest

from conftest import rss_bytes

SIZE = 64 << 20


@pytest.fixture
def static_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    block = hashlib.sha256(b"crest").digest() * 2048  # 64 KiB of varied bytes
    with open(root / "big.bin", "wb") as f:
        for _ in range(SIZE // len(block)):
            f.write(block)
    (root / "index.html").write_text("<h1>crest</h1>")
    (root / ".env").write_text("SECRET=1")
    (tmp_path / "secret.txt").write_text("outside")
    os.symlink(tmp_path / "secret.txt", root / "escape")
    return root



def test_a_file_is_served_with_validators_and_ranges(start_crest, static_root):
    crest = start_crest("--static", str(static_root), workers=1)
    conn = http.client.HTTPConnection("127.0.0.1", crest.port, timeout=10)
    conn.request("GET", "/static/index.html")
    r = conn.getresponse()
    assert r.status == 200 and r.read() == b"<h1>crest</h1>"
    assert r.getheader("Content-Type") == "text/html; charset=utf-8"
    etag = r.getheader("ETag")
    conn.request("GET", "/static/index.html", headers={"If-None-Match": etag})
    r = conn.getresponse()
    assert r.status == 304 and r.read() == b""
    conn.request("GET", "/static/big.bin", headers={"Range": "bytes=1000-1999"})
    r = conn.getresponse()
    assert r.status == 206 and r.getheader("Content-Range") == f"bytes 1000-1999/{SIZE}"
    with open(static_root / "big.bin", "rb") as f:
        f.seek(1000)
        assert r.read() == f.read(1000)
    conn.request("GET", "/json")  # the connection goes on after the file
    assert conn.getresponse().status == 200
    conn.close()


@pytest.mark.parametrize("target", [
    "/static/../crest.db", "/static/%2e%2e/crest.db", "/static/.env", "/static/escape",
    "/static/", "/static//etc/passwd", "/static/%2Fetc%2Fpasswd",
])
def test_what_is_outside_or_hidden_is_404(start_crest, static_root, target):
    crest = start_crest("--static", str(static_root), workers=1)
    with crest.conn() as c:
        r = c.request(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert r.status == 404
    assert b"outside" not in r.body and b"SECRET" not in r.body


def test_64_mib_to_four_slow_readers_keeps_the_server_flat(start_crest, static_root):
    crest = start_crest("--static", str(static_root), workers=1)
    pid = crest.proc.pid
    conn = http.client.HTTPConnection("127.0.0.1", crest.port, timeout=10)
    conn.request("GET", "/static/index.html")  # warm the worker
    conn.getresponse().read()
    conn.close()
    before = rss_bytes(pid)
    peak = [before]
    digests = []

    def reader():
        s = socket.create_connection(("127.0.0.1", crest.port), timeout=30)
        s.sendall(b"GET /static/big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        h, got, head = hashlib.sha256(), 0, b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        head, _, rest = head.partition(b"\r\n\r\n")
        h.update(rest)
        got = len(rest)
        deadline = time.monotonic() + 60
        while got < SIZE and time.monotonic() < deadline:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            h.update(chunk)
            got += len(chunk)
            if got < 4 << 20:
                time.sleep(0.001)  # slow at first
            peak[0] = max(peak[0], rss_bytes(pid))
        s.close()
        digests.append((got, h.hexdigest()))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    with open(static_root / "big.bin", "rb") as f:
        want = hashlib.sha256(f.read()).hexdigest()
    assert digests == [(SIZE, want)] * 4
    assert peak[0] - before < 1 << 20, f"RSS grew {peak[0] - before} bytes for 4 x 64 MiB"
