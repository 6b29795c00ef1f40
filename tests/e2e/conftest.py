"""Black-box harness for the crest binary.

Each test starts the real `crest serve` on a free 127.0.0.1 port, in the test's temporary
directory (its cwd, with --db there), waits for "Application startup complete." and stops it by
pid at the end: SIGTERM, up to 15 s to drain, then SIGKILL. Never by name.

The binary is $CREST_BIN, else build/crest in this repository. Only the standard library and
pytest are used. Every socket operation has a timeout, so a server that stops answering fails a
test instead of hanging the suite.
"""

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from pg import db_backend, db_flags, pg_server, pg_url  # noqa: F401 (PostgreSQL fixtures)

REPO = Path(__file__).resolve().parents[2]
CREST_BIN = os.environ.get("CREST_BIN") or str(REPO / "build" / "crest")

STARTUP_TIMEOUT = 10.0  # seconds until "Application startup complete."
STOP_TIMEOUT = 15.0  # seconds between SIGTERM and SIGKILL
IO_TIMEOUT = 5.0  # default bound on every socket operation
READY_LINE = "Application startup complete."
ENV_KNOBS = ("HOST", "PORT", "CREST_WORKERS", "CREST_MEMORY_LIMIT", "CREST_DEBUG_TOKEN",
             "CREST_FAIL_ALLOC", "CREST_API_KEY_FILE")  # removed from the inherited environment
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak|Thread)Sanitizer|runtime error:")


def free_port():
    """A port nothing listens on right now (the kernel's choice for an ephemeral bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid):
    """VmRSS of a process in bytes (what crest itself reports), 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass
    return 0


def clean_env(extra=None):
    """The test process's environment without crest's knobs, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in ENV_KNOBS}
    env.update(extra or {})
    return env


def run_crest(args, cwd, env=None, timeout=10.0):
    """Runs crest to completion (help, version, rejected flags) and returns CompletedProcess.

    A crest that unexpectedly starts serving is killed by subprocess.run after `timeout`, and
    the test fails with TimeoutExpired rather than hanging."""
    return subprocess.run(
        [CREST_BIN, *args],
        cwd=cwd,
        env=clean_env(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# ---- responses ----


class Response:
    """One HTTP response as read off the wire."""

    def __init__(self, version, status, reason, headers, body, head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name, value)] in wire order
        self.body = body
        self.head = head  # the raw bytes of status line and header fields

    def header(self, name):
        """The first value of header `name` (case-insensitive), or None."""
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name):
        name = name.lower()
        return [v for n, v in self.headers if n.lower() == name]

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.headers!r} {self.body[:200]!r}>"


STATUS_LINE = re.compile(rb"^HTTP/(\d)\.(\d) (\d{3}) ([^\r\n]*)$")
FIELD_LINE = re.compile(rb"^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([^\r\n]*?)[ \t]*$")


class ProtocolError(AssertionError):
    """The server sent bytes that are not a well-formed HTTP/1.1 response."""


class Conn:
    """A raw TCP connection to crest with a read buffer, so pipelined responses can be read one
    at a time. `reads` counts the recv() calls that returned data."""

    def __init__(self, port, timeout=IO_TIMEOUT, nodelay=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""
        self.reads = 0
        self.eof = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.sock.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        """Reads more bytes into the buffer; False at EOF. Raises socket.timeout at deadline."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("no complete response before the deadline")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        finally:
            self.sock.settimeout(self.timeout)
        if not chunk:
            self.eof = True
            return False
        self.reads += 1
        self.buf += chunk
        return True

    def _take(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ProtocolError(f"EOF after {len(self.buf)} of {n} body bytes")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self, head_only=False, timeout=None):
        """Reads one response (an interim 1xx counts as one). `head_only` for answers to HEAD.
        The body is framed by Content-Length, or runs to EOF when there is none."""
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                raise ProtocolError(f"EOF before a complete response head: {self.buf[:300]!r}")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        m = STATUS_LINE.match(lines[0])
        if not m:
            raise ProtocolError(f"bad status line {lines[0][:200]!r}")
        headers = []
        for line in lines[1:]:
            f = FIELD_LINE.match(line)
            if not f or b"\n" in line or b"\r" in line:
                raise ProtocolError(f"bad header line {line[:200]!r} in {head[:500]!r}")
            headers.append((f.group(1).decode("latin-1"), f.group(2).decode("latin-1")))
        status = int(m.group(3))
        resp = Response(
            f"HTTP/{m.group(1).decode()}.{m.group(2).decode()}",
            status,
            m.group(4).decode("latin-1"),
            headers,
            b"",
            head,
        )
        lengths = resp.header_all("Content-Length")
        if len(lengths) > 1:
            raise ProtocolError(f"several Content-Length headers: {lengths}")
        if head_only or status < 200 or status in (204, 304):
            return resp
        if lengths:
            resp.body = self._take(int(lengths[0]), deadline)
        else:
            while self._fill(deadline):
                pass
            resp.body, self.buf = self.buf, b""
        return resp

    def wait_closed(self, timeout=IO_TIMEOUT):
        """Waits for the server to close. Returns (closed, bytes received meanwhile): closed is
        False if the connection was still open at the timeout."""
        deadline = time.monotonic() + timeout
        before = len(self.buf)
        try:
            while self._fill(deadline):
                pass
        except (socket.timeout, TimeoutError):
            return False, self.buf[before:]
        return True, self.buf[before:]

    def request(self, raw, head_only=False):
        self.send(raw)
        return self.read_response(head_only=head_only)


def get(path, host="x", extra=""):
    """Bytes of a minimal HTTP/1.1 GET."""
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()


# ---- the server ----


class Server:
    """A running crest: .port, .proc, .stdout and .stderr (lists of lines, filled by readers)."""

    def __init__(self, proc, port, cwd):
        self.proc = proc
        self.port = port
        self.cwd = cwd
        self.stdout = []
        self.stderr = []
        self.ready = threading.Event()
        self.started = False  # ready; teardown then expects a clean exit 0 on SIGTERM
        self._readers = [
            threading.Thread(target=self._pump, args=(proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._pump, args=(proc.stderr, self.stderr), daemon=True),
        ]
        for t in self._readers:
            t.start()

    def _pump(self, stream, lines):
        for line in stream:
            lines.append(line.rstrip("\n"))
            if line.rstrip("\n") == READY_LINE:
                self.ready.set()
        stream.close()

    def wait_ready(self, timeout=STARTUP_TIMEOUT):
        """True once the ready line is printed; False if crest exited or timed out first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready.wait(0.02):
                return True
            if self.proc.poll() is not None:
                for t in self._readers:
                    t.join(1)
                return self.ready.is_set()
        return False

    def conn(self, timeout=IO_TIMEOUT, nodelay=True):
        return Conn(self.port, timeout=timeout, nodelay=nodelay)

    def request(self, raw, head_only=False):
        """Sends `raw` on a fresh connection and reads one response."""
        with self.conn() as c:
            return c.request(raw, head_only=head_only)

    def get(self, path, **kw):
        return self.request(get(path, **kw))

    def signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)  # by pid

    def wait(self, timeout):
        """The exit code; raises subprocess.TimeoutExpired if still running after `timeout`."""
        rc = self.proc.wait(timeout)
        for t in self._readers:
            t.join(2)
        return rc

    def stop(self):
        """SIGTERM, STOP_TIMEOUT to drain, then SIGKILL. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for t in self._readers:
            t.join(2)
        return self.proc.returncode


@pytest.fixture
def start_crest(tmp_path):
    """Factory: start_crest(*flags, workers=2, env=None, port=None, listen_flags=True, wait=True)
    starts crest and returns a Server. With listen_flags, --host 127.0.0.1 --port P are added
    (P free, or `port`); without, the caller supplies host and port (flags or env) and `port`.
    Every server started is stopped by pid when the test ends; the test then errors if one did
    not exit 0 or printed a sanitizer report (run the suite against an ASan build to use it)."""
    servers = []

    def start(*flags, workers=2, env=None, port=None, listen_flags=True, wait=True):
        for _attempt in range(3):
            p = port or free_port()
            args = [CREST_BIN, "serve"]
            if listen_flags:
                args += ["--host", "127.0.0.1", "--port", str(p)]
            if workers is not None:
                args += ["--workers", str(workers)]
            args += ["--db", str(tmp_path / "crest.db"), *flags]
            proc = subprocess.Popen(
                args,
                cwd=tmp_path,
                env=clean_env(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
            )
            srv = Server(proc, p, tmp_path)
            servers.append(srv)
            if not wait:
                srv.started = True
                return srv
            if srv.wait_ready():
                srv.started = True
                return srv
            servers.remove(srv)
            srv.stop()
            lost_race = "in use" in " ".join(srv.stderr).lower()
            if not (lost_race and port is None and listen_flags):
                break  # a real failure, not another process taking our free port
        pytest.fail(
            f"crest did not start: {args}\nexit={srv.proc.returncode}\n"
            f"stdout={srv.stdout}\nstderr={srv.stderr}"
        )

    yield start
    problems = []
    for srv in servers:
        rc = srv.stop()
        if srv.started and rc != 0:
            problems.append(f"crest on port {srv.port} exited {rc} after SIGTERM")
        report = [line for line in srv.stderr if SANITIZER_REPORT.search(line)]
        if report:
            problems.append(f"crest on port {srv.port}: " + "\n".join(srv.stderr[-40:]))
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def crest(start_crest):
    """A crest with default settings and 2 workers."""
    return start_crest()
