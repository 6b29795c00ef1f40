"""examples/middleware.c (issue 16): an application written only against crest.h that uses the
built-in middleware: trusted proxies and crest_req_client, request IDs and crest_req_id, a rate
limit keyed by the client's API key (a credential) or else its address, CORS, and gzip on a
10 KB JSON body; run on real sockets, stopped by pid."""
import gzip
import http.client
import json
import os
import subprocess
import time

import pytest

from conftest import free_port

EXAMPLE = os.path.join(os.environ.get("CREST_BUILD", "build"), "examples", "middleware")


def request(port, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r, data


@pytest.fixture
def example(tmp_path):
    if not os.access(EXAMPLE, os.X_OK):
        pytest.fail(f"{EXAMPLE} is not built (make build builds the examples)")
    port = free_port()
    proc = subprocess.Popen([EXAMPLE, "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "2", "--trust-proxies", "127.0.0.1", "--request-id",
                             "--rate-limit", "3", "--cors", "https://a.example", "--gzip", "500"],
                            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            request(port, "/healthz", {"X-Api-Key": "probe"})
            break
        except OSError:
            time.sleep(0.05)
    yield port
    proc.terminate()
    assert proc.wait(10) == 0, proc.stderr.read()


def test_example_middleware_all_together(example):
    r, body = request(example, "/whoami", {"X-Forwarded-For": "203.0.113.4",
                                           "X-Request-ID": "req-1", "X-Api-Key": "k0",
                                           "Origin": "https://a.example"})
    assert r.status == 200
    assert json.loads(body) == {"client": "203.0.113.4", "request_id": "req-1"}
    assert r.getheader("X-Request-ID") == "req-1"
    assert r.getheader("Access-Control-Allow-Origin") == "https://a.example"
    assert r.getheader("RateLimit-Policy") == '"default";q=3;w=1'
    r, body = request(example, "/catalog", {"Accept-Encoding": "gzip", "X-Api-Key": "k1"})
    items = json.loads(gzip.decompress(body))
    assert r.getheader("Content-Encoding") == "gzip" and len(items) > 100
    assert len(gzip.decompress(body)) > 9000 and len(body) < 2000
    # the key is the credential: k2 runs out, k3 and keyless clients do not
    statuses = [request(example, "/json", {"X-Api-Key": "k2"})[0].status for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[-1] == 429, statuses
    assert request(example, "/json", {"X-Api-Key": "k3"})[0].status == 200
    assert request(example, "/json")[0].status == 200


def test_example_middleware_behind_bearer_auth(tmp_path):
    """--bearer KEY: every route needs the key (401 with the challenge without it, even crest's
    own /json), and CORS still labels the refusal so a browser can read it."""
    port = free_port()
    proc = subprocess.Popen([EXAMPLE, "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "1", "--cors", "https://a.example", "--bearer", "k-42"],
                            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                r, body = request(port, "/json", {"Origin": "https://a.example"})
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert r.status == 401 and json.loads(body) == {"detail": "Not authenticated"}
        assert r.getheader("WWW-Authenticate") == "Bearer"
        assert r.getheader("Access-Control-Allow-Origin") == "https://a.example"
        r, _ = request(port, "/json", {"Authorization": "Bearer wrong"})
        assert r.status == 401
        r, body = request(port, "/json", {"Authorization": "Bearer k-42"})
        assert r.status == 200 and json.loads(body) == {"message": "Hello, World!"}
    finally:
        proc.terminate()
        assert proc.wait(10) == 0, proc.stderr.read()
