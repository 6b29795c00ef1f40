"""Hostile clients (the hardening issue): a 1 byte/s slowloris, a client that never reads its
large responses, descriptor exhaustion, 10,000 concurrent keep-alive connections, CR/LF smuggled
into targets and header values, and HEAD / unknown methods on every route.

Every test talks only to 127.0.0.1, is bounded in time, and stops what it starts by pid (the
start_crest fixture, or Server.stop() for the one crest started under a lowered RLIMIT_NOFILE)."""

import json
import os
import re
import resource
import selectors
import socket
import subprocess
import threading
import time

import pytest

from conftest import CREST_BIN, SANITIZER_REPORT, Conn, Server, clean_env, free_port, get

JSON_BODY = b'{"message":"Hello, World!"}'
# Every header name crest generates; anything else in a response head came from a request.
CREST_HEADERS = {
    "server",
    "date",
    "content-type",
    "content-length",
    "connection",
    "location",
    "allow",
    "retry-after",
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---- /proc readers for the server process ----


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid):
    """utime + stime of the whole process (all threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def server_holds(server_port, client_port):
    """True while some process (crest) still holds the server end of the 127.0.0.1 connection
    from `client_port`: its /proc/net/tcp row exists with a non-zero inode. After close(2) the
    row disappears (RST) or stays orphaned (inode 0) while unsent data or a FIN is pending."""
    local = f"0100007F:{server_port:04X}"
    remote = f"0100007F:{client_port:04X}"
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            cols = line.split()
            if cols[1] == local and cols[2] == remote:
                return cols[9] != "0"
    return False


# ---- items ----


def populate(port, n=1000, desc_len=1000):
    """Creates n items with long descriptions in one pipelined burst."""
    body = json.dumps({"name": "x", "price": 1, "description": "d" * desc_len}).encode()
    post = (
        b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    with Conn(port, timeout=20) as c:
        sender = threading.Thread(target=c.sock.sendall, args=(post * n,), daemon=True)
        sender.start()
        for i in range(n):
            r = c.read_response()
            assert r.status == 201, f"item {i}: {r!r}"
        sender.join(5)


LIST_ALL = get("/items?limit=1000")


def big_page_size(port):
    with Conn(port, timeout=10) as c:
        r = c.request(LIST_ALL)
    assert r.status == 200, r
    assert len(r.json()) == 1000
    return len(r.body)


def stalled_reader(port, n_requests=200):
    """A connection with a tiny receive buffer that pipelines n_requests large GETs and never
    reads. Returns the socket (non-blocking)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)  # before connect: sets the window
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    data = LIST_ALL * n_requests
    sent = 0
    deadline = time.monotonic() + 1.0
    while sent < len(data) and time.monotonic() < deadline:  # whatever the server takes in 1 s
        try:
            sent += s.send(data[sent:])
        except BlockingIOError:
            time.sleep(0.01)
    return s


# ---- 1. slowloris ----


def test_slowloris_at_one_byte_per_second_gets_408_and_close(start_crest):
    srv = start_crest("--timeout-header", "2", "--timeout-keep-alive", "30")
    request = b"GET /json HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    stop = threading.Event()
    with srv.conn() as c:
        t0 = time.monotonic()

        def drip():
            for b in request:  # from the very first byte, one per second
                try:
                    c.sock.send(bytes([b]))
                except OSError:
                    return
                if stop.wait(1.0):
                    return

        dripper = threading.Thread(target=drip, daemon=True)
        dripper.start()
        try:
            r = c.read_response(timeout=6)
            elapsed = time.monotonic() - t0
        finally:
            stop.set()
            dripper.join(3)
        assert r.status == 408, r
        assert isinstance(r.json()["detail"], str)
        assert (r.header("Connection") or "").lower() == "close"
        assert 1.7 <= elapsed <= 3.5, f"408 after {elapsed:.2f} s (timeout 2 s)"
        closed, _ = c.wait_closed(timeout=2)
        assert closed, "the slowloris connection is still open after its 408"
    assert srv.get("/json").status == 200


# ---- 2. a client that never reads ----


def test_client_that_never_reads_large_responses_cannot_grow_server_memory(start_crest):
    srv = start_crest("--timeout-keep-alive", "30")
    pid = srv.proc.pid
    populate(srv.port)
    page = big_page_size(srv.port)
    assert page > 100_000, f"GET /items?limit=1000 is only {page} bytes"
    rss_ready = rss_kb(pid)
    s = stalled_reader(srv.port)
    try:
        samples = []
        t0 = time.monotonic()
        next_probe = t0
        while time.monotonic() - t0 < 3.0:
            samples.append((time.monotonic() - t0, rss_kb(pid)))
            if time.monotonic() >= next_probe:  # other clients are still served meanwhile
                r = srv.get("/json")
                assert r.status == 200 and r.body == JSON_BODY, r
                next_probe += 0.5
            time.sleep(0.1)
        peak = max(kb for _, kb in samples)
        early = max(kb for t, kb in samples if t < 1.5)
        late = max(kb for t, kb in samples if t >= 1.5)
        # 200 unread responses of `page` bytes would be ~200 MB if crest kept producing them.
        # Growth, not the total: a sanitizer build starts at ~80 MB.
        assert peak - rss_ready < 64 * 1024, f"RSS grew to {peak} kB from {rss_ready} kB"
        assert late - early < 2048, f"RSS still growing: {samples}"
        assert server_holds(srv.port, s.getsockname()[1]), "closed before --timeout-body (30 s)"
    finally:
        s.close()
    assert srv.get("/healthz").status == 200


def test_client_that_never_reads_is_closed_after_the_body_timeout(start_crest):
    srv = start_crest("--timeout-body", "2", "--timeout-keep-alive", "30")
    populate(srv.port)
    s = stalled_reader(srv.port)
    try:
        client_port = s.getsockname()[1]
        # until crest accepts it, the server end sits in the listen queue with no owner (inode 0)
        accept_deadline = time.monotonic() + 3
        while not server_holds(srv.port, client_port) and time.monotonic() < accept_deadline:
            time.sleep(0.01)
        assert server_holds(srv.port, client_port)
        t0 = time.monotonic()
        while server_holds(srv.port, client_port) and time.monotonic() - t0 < 8:
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        assert not server_holds(srv.port, client_port), "stalled reader still open after 8 s"
        # write progress stops within moments of the burst (the window is 2 KB), then 2 s
        assert 1.5 <= elapsed <= 4.5, f"closed after {elapsed:.2f} s (--timeout-body 2)"
    finally:
        s.close()
    r = srv.get("/json")
    assert r.status == 200 and r.body == JSON_BODY


# ---- 3. descriptor exhaustion ----


def start_with_128_descriptors(tmp_path):
    """crest under RLIMIT_NOFILE 128/128 (it raises its soft limit to the hard one, so both are
    lowered), with long header and keep-alive timeouts. Returns a ready Server; the caller stops
    it by pid. Retries on another port if one was taken meanwhile."""
    for _attempt in range(3):
        port = free_port()
        args = [CREST_BIN, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
        args += ["--db", str(tmp_path / "crest.db"), "--timeout-header", "30"]
        args += ["--timeout-keep-alive", "30"]
        proc = subprocess.Popen(
            args,
            cwd=tmp_path,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128)),
        )
        srv = Server(proc, port, tmp_path)
        if srv.wait_ready():
            return srv
        srv.stop()
        if "in use" not in " ".join(srv.stderr).lower():
            break
    pytest.fail(f"crest did not start under 128 descriptors: {srv.stderr}")


def test_descriptor_exhaustion_does_not_spin_and_recovers(tmp_path):
    srv = start_with_128_descriptors(tmp_path)
    port, pid = srv.port, srv.proc.pid
    flood = []
    try:
        existing = [Conn(port) for _ in range(2)]
        for c in existing:
            assert c.request(get("/json")).status == 200

        for _ in range(300):  # more than 128 descriptors; the rest wait in the backlog
            flood.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        # wait until crest has taken all the descriptors it can
        deadline = time.monotonic() + 5
        last, stable_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            n = open_fds(pid)
            if n != last:
                last, stable_since = n, time.monotonic()
            elif time.monotonic() - stable_since > 0.5:
                break
            time.sleep(0.05)
        assert last >= 120, f"crest holds only {last} descriptors of 128"

        # a connection beyond the limit waits in the backlog, unanswered
        late = Conn(port, timeout=5)
        late.send(get("/json"))
        with pytest.raises((socket.timeout, TimeoutError)):
            late.read_response(timeout=0.5)

        cpu0 = cpu_seconds(pid)
        time.sleep(2.0)
        spent = cpu_seconds(pid) - cpu0
        assert spent < 0.3, f"crest used {spent:.2f} s of CPU in 2 s of idle flood: spinning"

        for c in existing:  # connections accepted before the flood are still served
            r = c.request(get("/json"))
            assert r.status == 200 and r.body == JSON_BODY, r

        for s in flood:
            s.close()
        flood = []
        r = late.read_response(timeout=5)  # accepted once descriptors are free again
        assert r.status == 200 and r.body == JSON_BODY, r
        late.close()
        for _ in range(20):
            with Conn(port) as c:
                assert c.request(get("/healthz")).status == 200
        for c in existing:
            assert c.request(get("/json")).status == 200
            c.close()
    finally:
        for s in flood:
            s.close()
        rc = srv.stop()
    assert rc == 0, f"crest exited {rc} after SIGTERM: {srv.stderr[-20:]}"
    assert not [line for line in srv.stderr if SANITIZER_REPORT.search(line)], srv.stderr[-40:]


# ---- 4. 10,000 concurrent keep-alive connections ----

N_10K = 10_000
BATCH = 1000
DEADLINE_10K = 30.0
CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.I)


@pytest.fixture
def fds_for_10k():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = N_10K + 100
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {need}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def connect_batch(sel, port, n, deadline):
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        socks.append(s)
        rc = s.connect_ex(("127.0.0.1", port))
        assert rc in (0, 115), f"connect: {os.strerror(rc)}"  # 115: EINPROGRESS
        sel.register(s, selectors.EVENT_WRITE)
    pending = n
    while pending:
        left = deadline - time.monotonic()
        assert left > 0, f"{pending} connects pending at the deadline"
        for key, _ in sel.select(timeout=min(left, 1.0)):
            s = key.fileobj
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            assert err == 0, f"connect: {os.strerror(err)}"
            sel.unregister(s)
            pending -= 1
    return socks


def exchange_batch(sel, socks, deadline):
    """GET /json on each socket, then one full 200 response read from each."""
    bufs = {}
    request = get("/json")
    for s in socks:
        assert s.send(request) == len(request)
        sel.register(s, selectors.EVENT_READ)
        bufs[s] = b""
    pending = len(socks)
    while pending:
        left = deadline - time.monotonic()
        assert left > 0, f"{pending} of {len(socks)} responses missing at the deadline"
        for key, _ in sel.select(timeout=min(left, 1.0)):
            s = key.fileobj
            chunk = s.recv(4096)
            assert chunk, "server closed a keep-alive connection"
            buf = bufs[s] + chunk
            bufs[s] = buf
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                continue
            m = CONTENT_LENGTH.search(buf[:end])
            assert m, buf[:end]
            if len(buf) < end + 4 + int(m.group(1)):
                continue
            assert buf.startswith(b"HTTP/1.1 200 "), buf[:200]
            assert buf[end + 4 :] == JSON_BODY, buf
            sel.unregister(s)
            pending -= 1


def test_ten_thousand_concurrent_keep_alive_connections(start_crest, fds_for_10k):
    srv = start_crest("--timeout-keep-alive", "60", "--timeout-header", "60", workers=2)
    t0 = time.monotonic()
    deadline = t0 + DEADLINE_10K
    sel = selectors.DefaultSelector()
    socks = []
    try:
        for i in range(0, N_10K, BATCH):
            batch = connect_batch(sel, srv.port, BATCH, deadline)
            socks += batch
            exchange_batch(sel, batch, deadline)
        held = open_fds(srv.proc.pid)
        assert held >= N_10K, f"crest holds {held} descriptors, expected all {N_10K} connections"
        for i in range(0, N_10K, BATCH):  # the second request on every connection
            exchange_batch(sel, socks[i : i + BATCH], deadline)
        elapsed = time.monotonic() - t0
        print(f"10,000 connections x 2 requests in {elapsed:.1f} s")
        assert srv.get("/healthz").status == 200
    finally:
        sel.close()
        for s in socks:
            s.close()


# ---- 5. CR/LF never reaches a response header ----

SMUGGLING = [
    get("/items/%0d%0aX-Evil:%201"),
    get("/items/1%0d%0aX-Evil:%201"),
    get("/json%0d%0aX-Evil:%201"),
    get("/%0d%0aX-Evil:%201"),
    get("/items?limit=%0d%0aX-Evil:%201"),
    get("/items?offset=1&x=%0d%0aX-Evil:%201"),
    get("/json?x=%0aX-Evil:%201"),
    get("/json?x=%0dX-Evil:%201"),
    get("/items/%250d%250aX-Evil:%201"),
    get("/items/%c2%85X-Evil:%201"),  # NEL
    get("/items/%e2%80%a8X-Evil:%201"),  # LINE SEPARATOR
    b"DELETE /items?x=%0d%0aX-Evil:%201 HTTP/1.1\r\nHost: x\r\n\r\n",  # 405 + Allow
    b"TRACE /items/%0d%0aX-Evil:%201 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"OPTIONS /items/%0d%0aX-Evil:%201 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"OPTIONS /json%0d%0aX-Evil:%201 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"BREW /%0d%0aX-Evil:%201 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"HEAD /items/%0d%0aX-Evil:%201 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /json\r\nX-Evil: 1 HTTP/1.1\r\nHost: x\r\n\r\n",  # raw CRLF in the target
    b"GET /json\rX-Evil: 1 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /json\nX-Evil: 1 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /json HTTP/1.1\r\nHost: x\r\n X-Evil: 1\r\n\r\n",  # obs-fold
    b"GET /json HTTP/1.1\r\nHost: x\r\n\tX-Evil: 1\r\n\r\n",
    b"GET /json HTTP/1.1\r\nHost:\r\n X-Evil: 1\r\n\r\n",
    b"GET /json HTTP/1.1\r\n X-Evil: 1\r\nHost: x\r\n\r\n",
    b"GET /json HTTP/1.1\r\nHost: x\rX-Evil: 1\r\n\r\n",  # bare CR in a value
    b"GET /json HTTP/1.1\r\nHost: x\nX-Evil: 1\r\n\r\n",  # bare LF in a value
    b"GET /json HTTP/1.1\r\nHost: x%0d%0aX-Evil: 1\r\n\r\n",
    b"GET /json HTTP/1.1\r\nHost: x\x00X-Evil: 1\r\n\r\n",
    b"GET http://x/json%0d%0aX-Evil:%201 HTTP/1.1\r\nHost: x\r\n\r\n",
]


def check_head(resp, raw):
    """Every header name in the response head is one crest generates, and none carries input."""
    foreign = {n.lower() for n, _ in resp.headers} - CREST_HEADERS
    assert not foreign, f"{raw!r} → foreign header {foreign}: {resp.head!r}"
    assert b"evil" not in resp.head.lower(), f"{raw!r} → {resp.head!r}"


@pytest.mark.parametrize("raw", SMUGGLING, ids=range(len(SMUGGLING)))
def test_cr_lf_in_targets_and_header_values_never_reaches_a_response_header(crest, raw):
    with crest.conn() as c:
        c.send(raw + get("/healthz"))
        first = c.read_response(head_only=raw.startswith(b"HEAD "))
        check_head(first, raw)
        if (first.header("Connection") or "").lower() != "close":
            # kept alive: the next response must be exactly the pipelined /healthz
            r = c.read_response()
            check_head(r, raw)
            assert r.status == 200 and r.json() == {"status": "ok"}, (raw, first, r)
        if first.body:
            first.json()  # any echo of the input stays inside a JSON string


def test_header_line_after_the_end_of_the_head_is_a_bad_next_request_not_a_header(crest):
    raw = b"GET /json HTTP/1.1\r\nHost: x\r\n\r\nX-Evil: 1\r\n\r\n"
    with crest.conn() as c:
        c.send(raw)
        r = c.read_response()
        check_head(r, raw)
        assert r.status == 200 and r.body == JSON_BODY, r
        r = c.read_response()
        check_head(r, raw)
        assert r.status == 400 and (r.header("Connection") or "").lower() == "close", r


def test_cr_lf_in_an_item_name_stays_in_the_json_body(crest):
    body = json.dumps({"name": "a\r\nX-Evil: 1\r\n\r\nb", "price": 1}).encode()
    raw = (
        b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    with crest.conn() as c:
        r = c.request(raw)
        check_head(r, raw)
        assert r.status == 201, r
        assert re.fullmatch(r"/items/\d+", r.header("Location")), r
        r2 = c.request(get(r.header("Location")))
        check_head(r2, raw)
        assert r2.json()["name"] == "a\r\nX-Evil: 1\r\n\r\nb"


# ---- 6. HEAD and methods on every route ----

ROUTES = {  # path → methods routed there (HEAD follows GET; OPTIONS is always answered)
    "/json": {"GET"},
    "/healthz": {"GET"},
    "/items": {"GET", "POST"},
    "/items/{id}": {"GET", "PUT", "PATCH", "DELETE"},
}
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "TRACE"]


def create_item(c):
    body = b'{"name":"x","price":1}'
    r = c.request(
        b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    assert r.status == 201, r
    return r.json()["id"]


def without_date(resp):
    return [(n.lower(), v) for n, v in resp.headers if n.lower() != "date"]


def test_head_answers_as_get_without_a_body_on_every_get_route(crest):
    with crest.conn() as c:
        item = create_item(c)
        targets = [
            "/json",
            "/healthz",
            "/items",
            "/items?limit=2&offset=0",
            f"/items/{item}",
            "/items/999999",  # 404
            "/items/abc",  # 422
            "/items?limit=0",  # 422
            "/nope",  # 404
        ]
        for target in targets:
            g = c.request(get(target))
            # HEAD, then a pipelined GET: a body after the HEAD would be read as its response
            c.send(f"HEAD {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode() + get("/healthz"))
            h = c.read_response(head_only=True)
            after = c.read_response()
            assert h.status == g.status, (target, g, h)
            assert without_date(h) == without_date(g), (target, g.headers, h.headers)
            assert int(h.header("Content-Length")) == len(g.body), (target, h)
            assert after.status == 200 and after.json() == {"status": "ok"}, (target, after)


@pytest.mark.parametrize("path", sorted(ROUTES))
def test_methods_not_routed_are_405_with_allow(crest, path):
    with crest.conn() as c:
        target = path.replace("{id}", str(create_item(c)))
        allowed = set(ROUTES[path]) | {"OPTIONS"}
        if "GET" in allowed:
            allowed.add("HEAD")
        for method in METHODS:
            if method in allowed:
                continue  # served: the route tests cover them
            r = c.request(
                f"{method} {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
                head_only=method == "HEAD",
            )
            assert r.status == 405, (method, target, r)
            got = {m.strip() for m in (r.header("Allow") or "").split(",")}
            assert got == allowed, (method, target, r)
            if method != "HEAD":
                assert r.json() == {"detail": "Method Not Allowed"}, r
        r = c.request(f"OPTIONS {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert r.status == 204, r
        assert {m.strip() for m in r.header("Allow").split(",")} == allowed, r


@pytest.mark.parametrize("method", ["BREW", "get", "PROPFIND", "CONNECT"])
@pytest.mark.parametrize("path", ["/json", "/healthz", "/items", "/items/1", "/nope"])
def test_unknown_method_is_501_with_json_detail(crest, method, path):
    target = "127.0.0.1:80" if method == "CONNECT" else path
    with crest.conn() as c:
        r = c.request(f"{method} {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert r.status == 501, (method, target, r)
        assert r.header("Content-Type") == "application/json"
        assert isinstance(r.json()["detail"], str)
        if (r.header("Connection") or "").lower() != "close":
            assert c.request(get("/healthz")).status == 200
