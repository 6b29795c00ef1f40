"""examples/upstream.c (issue 15): an application on the worker's loop and the blocking pool,
written only against crest.h. A real HTTP upstream (python's http.server on a free 127.0.0.1
port) answers slowly or not at all; while a request waits on it, the same single worker keeps
answering /json at once, which a handler blocking its worker could not do. Blocking name lookups
run on the pool, and the bounded queue answers 503 rather than growing."""
import http.server
import os
import subprocess
import threading
import time

import pytest

from conftest import Server, clean_env, free_port, get

EXAMPLE = os.path.join(os.environ.get("CREST_BUILD", "build"), "examples", "upstream")


class Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        if self.path.startswith("/slow"):
            time.sleep(1.0)
        if self.path.startswith("/never"):
            time.sleep(8.0)
        body = ("upstream says " + self.path).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def upstream():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Upstream)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def example(tmp_path, upstream):
    if not os.path.exists(EXAMPLE):
        pytest.fail(f"{EXAMPLE} is not built (make build builds the examples)")
    port = free_port()
    proc = subprocess.Popen(
        [EXAMPLE, "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--upstream", f"127.0.0.1:{upstream}"],
        cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = Server(proc, port, tmp_path)
    assert server.wait_ready(), f"the example did not start: {server.stderr}"
    yield server
    assert server.stop() == 0


def test_upstream_answer_is_relayed(example):
    r = example.get("/upstream/hello")
    assert r.status == 200
    assert r.body == b"upstream says /hello"


def test_a_slow_upstream_does_not_block_the_worker(example):
    results = {}

    def slow():
        results["slow"] = example.get("/upstream/slow")

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.2)  # the slow request is pending on the one worker
    took = []
    for _ in range(20):
        start = time.monotonic()
        r = example.get("/json")
        took.append(time.monotonic() - start)
        assert r.status == 200
    t.join(5)
    assert results["slow"].status == 200 and results["slow"].body == b"upstream says /slow"
    assert max(took) < 0.5, f"/json waited behind the upstream: {max(took):.3f} s"


def test_an_unreachable_upstream_is_502(tmp_path):
    port, dead = free_port(), free_port()  # nothing listens on dead
    proc = subprocess.Popen(
        [EXAMPLE, "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--upstream", f"127.0.0.1:{dead}"],
        cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = Server(proc, port, tmp_path)
    try:
        assert server.wait_ready()
        r = server.get("/upstream/x")
        assert r.status == 502
        assert r.json() == {"detail": "Upstream unreachable"}
    finally:
        assert server.stop() == 0


def test_resolve_runs_on_the_pool(example):
    r = example.get("/resolve?host=localhost")
    assert r.status == 200
    body = r.json()
    assert body["host"] == "localhost"
    assert "127.0.0.1" in body["addresses"] or "::1" in body["addresses"]
    r = example.get("/resolve?host=no-such-host.invalid")
    assert r.status == 404
    r = example.get("/resolve")
    assert r.status == 422


def test_server_stops_with_a_request_pending_on_the_upstream(example):
    with example.conn() as c:
        c.send(get("/upstream/never"))
        time.sleep(0.3)
        # SIGTERM while the request waits: the drain ends it, the loop frees its handles
        assert example.stop() == 0
