#!/usr/bin/env python3
"""A short black-box run of crest under valgrind (`make valgrind`): memcheck errors and definite
leaks fail it.

Starts `valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 CREST
serve` on a free 127.0.0.1 port with 2 workers in a temporary directory, waits for the ready
line, sends ~200 requests of mixed kinds (every items route, errors, HEAD, pipelining, chunked
bodies, malformed requests, clients that leave mid-request), then SIGTERM by pid. Passes when
crest exits 0 and valgrind reports "ERROR SUMMARY: 0 errors" and no definitely lost bytes.

usage: valgrind_run.py [CREST_BINARY]   (default build-valgrind/crest)
Standard library only; exit status 0 on success, 1 on failure."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
READY_LINE = "Application startup complete."
STARTUP_TIMEOUT = 60.0  # valgrind runs crest ~20-50x slower
IO_TIMEOUT = 20.0
STOP_TIMEOUT = 60.0
VALGRIND = [
    "valgrind",
    "--leak-check=full",
    "--errors-for-leak-kinds=definite",
    "--error-exitcode=99",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One connection; read() returns (status, headers dict, body) framed by Content-Length."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        self.buf = b""

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError(f"connection closed; buffered {self.buf[:200]!r}")
        self.buf += chunk

    def read(self, head_only=False):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        n = 0 if head_only or status in (204, 304) else int(headers.get("content-length", 0))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def request(self, raw, head_only=False):
        self.send(raw)
        return self.read(head_only)


def req(method, target, body=None, extra=""):
    head = f"{method} {target} HTTP/1.1\r\nHost: x\r\n{extra}"
    if body is None:
        return (head + "\r\n").encode()
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    return head.encode() + data


def expect(got, status, what):
    if got[0] != status:
        raise AssertionError(f"{what}: expected {status}, got {got[0]} {got[2][:200]!r}")
    return got


def exercise(port):
    """~200 requests; returns how many were answered."""
    n = 0
    c = Client(port)
    for _ in range(20):
        expect(c.request(req("GET", "/json")), 200, "GET /json")
        expect(c.request(req("GET", "/healthz")), 200, "GET /healthz")
        n += 2
    ids = []
    for i in range(20):
        item = {"name": f"item{i}", "price": 1.5 + i, "description": "d" * (i * 40)}
        if i % 2:
            item.update(tax=0.5, tags=["a", "b"])
        _, _, body = expect(c.request(req("POST", "/items", item)), 201, "POST /items")
        ids.append(json.loads(body)["id"])
        n += 1
    for i in ids[:10]:
        expect(c.request(req("GET", f"/items/{i}")), 200, "GET item")
        expect(c.request(req("PUT", f"/items/{i}", {"name": "r", "price": 2})), 200, "PUT")
        expect(c.request(req("PATCH", f"/items/{i}", {"tax": 1})), 200, "PATCH")
        expect(c.request(req("HEAD", f"/items/{i}"), head_only=True), 200, "HEAD item")
        n += 4
    for i in ids[:5]:
        expect(c.request(req("DELETE", f"/items/{i}")), 204, "DELETE")
        expect(c.request(req("GET", f"/items/{i}")), 404, "GET deleted")
        n += 2
    expect(c.request(req("GET", "/items?limit=1000")), 200, "list")
    expect(c.request(req("GET", "/items?offset=3&limit=2")), 200, "page")
    expect(c.request(req("GET", "/items?limit=0")), 422, "bad limit")
    expect(c.request(req("GET", "/items/abc")), 422, "bad id")
    expect(c.request(req("POST", "/items", {"name": "", "price": -1})), 422, "invalid item")
    expect(c.request(req("POST", "/items", b'{"name": "x", "price": ')), 422, "bad JSON")
    expect(c.request(req("GET", "/nope")), 404, "unknown path")
    expect(c.request(req("DELETE", "/items")), 405, "wrong method")
    expect(c.request(req("TRACE", "/json")), 405, "TRACE")
    expect(c.request(req("OPTIONS", "/items/1")), 204, "OPTIONS")
    expect(c.request(req("OPTIONS", "*")), 204, "OPTIONS *")
    expect(c.request(req("HEAD", "/json"), head_only=True), 200, "HEAD /json")
    expect(c.request(req("BREW", "/json")), 501, "unknown method")
    n += 13
    chunked = (
        b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        b"a;ext=1\r\n{\"name\":\"c\r\n11\r\n\",\"price\":3.25}  \r\n0\r\nX-T: 1\r\n\r\n"
    )
    expect(c.request(chunked), 201, "chunked POST")
    n += 1
    c.send(b"".join(req("GET", "/json") for _ in range(30)))  # pipelined
    for _ in range(30):
        expect(c.read(), 200, "pipelined GET")
        n += 1
    expect(c.request(req("GET", "/json", extra="Connection: close\r\n")), 200, "close")
    n += 1
    c.close()

    for bad in (  # rejected requests: 4xx/5xx and close
        b"GET /json HTTP/1.1\r\nHost: x\r\n X-Fold: 1\r\n\r\n",
        b"GET /json HTTP/1.1\r\nHost: x\rX: 1\r\n\r\n",
        b"GET /json\r\nX: 1 HTTP/1.1\r\n\r\n",
        b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n",
    ):
        c = Client(port)
        try:
            c.send(bad)
            status, _, _ = c.read()
            if status < 400:
                raise AssertionError(f"{bad[:60]!r}: expected an error, got {status}")
            n += 1
        except (ConnectionResetError, BrokenPipeError, EOFError):
            pass  # closed before the client sent all of an oversized request: also a refusal
        c.close()

    for partial in (  # clients that leave mid-request: the server frees what they started
        b"GET /json HTTP/1.1\r\nHo",
        req("POST", "/items", {"name": "x", "price": 1})[:-5],
        b"POST /items HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        b"".join(req("GET", "/items?limit=1000") for _ in range(10)),  # and never reads
    ):
        c = Client(port)
        c.send(partial)
        time.sleep(0.2)
        c.close()

    threads = []
    errors = []

    def worker():
        try:
            wc = Client(port)
            for _ in range(10):
                expect(wc.request(req("GET", "/items?limit=5")), 200, "concurrent list")
            wc.close()
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    for _ in range(4):
        t = threading.Thread(target=worker)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(IO_TIMEOUT * 2)
    if errors:
        raise errors[0]
    n += 40
    expect(Client(port).request(req("GET", "/healthz")), 200, "final healthz")
    return n + 1


def main():
    crest = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else REPO / "build-valgrind" / "crest")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crest-valgrind-") as tmp:
        port = free_port()
        args = [*VALGRIND, crest, "serve", "--host", "127.0.0.1", "--port", str(port)]
        args += ["--workers", "2", "--db", os.path.join(tmp, "crest.db")]
        env = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT", "CREST_WORKERS")}
        proc = subprocess.Popen(
            args,
            cwd=tmp,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
        )
        stdout, stderr = [], []
        ready = threading.Event()

        def pump(stream, lines):
            for line in stream:
                lines.append(line.rstrip("\n"))
                if line.rstrip("\n") == READY_LINE:
                    ready.set()

        readers = [
            threading.Thread(target=pump, args=(proc.stdout, stdout), daemon=True),
            threading.Thread(target=pump, args=(proc.stderr, stderr), daemon=True),
        ]
        for t in readers:
            t.start()
        failure = None
        answered = 0
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not ready.wait(0.1):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("crest did not become ready under valgrind")
            answered = exercise(port)
        except Exception as e:  # noqa: BLE001 (reported after the stop)
            failure = e
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # by pid
                try:
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
            for t in readers:
                t.join(5)
    elapsed = time.monotonic() - t0
    log = "\n".join(stderr)
    problems = []
    if failure:
        problems.append(f"black-box run failed: {failure!r}")
    if proc.returncode != 0:
        problems.append(f"exit status {proc.returncode} (99: valgrind found errors)")
    summary = re.findall(r"ERROR SUMMARY: (\d+) errors", log)
    if not summary or any(int(s) for s in summary):
        problems.append(f"valgrind ERROR SUMMARY: {summary or 'missing'}")
    lost = [int(b.replace(",", "")) for b in re.findall(r"definitely lost: ([\d,]+) bytes", log)]
    if any(lost):
        problems.append(f"definitely lost bytes: {lost}")
    print(f"valgrind run: {answered} requests answered, {elapsed:.1f} s")
    if problems:
        print("\n".join(stderr[-80:]), file=sys.stderr)
        print("FAILED: " + "; ".join(problems), file=sys.stderr)
        return 1
    keep = ("ERROR SUMMARY", "lost:", "heap blocks", "in use at exit")
    print("\n".join(line for line in stderr if any(k in line for k in keep)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
