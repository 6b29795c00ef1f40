#!/usr/bin/python3
"""bench/lib.py: what every benchmark here shares, so each script keeps only its own method.

Servers as our children on free 127.0.0.1 ports (started pinned, waited for until the first 200
to GET /json, stopped by pid with their process tree, temporary directory removed); memory of a
process tree (psutil's RSS sum, smaps_rollup fields); nginx and h2o configured as the references;
wrk's output parsed; idle keep-alive connections opened and measured; the machine described; and
figures formatted. engine.py, items.py, soak.py, accounting.py and compare.py use it.
"""

import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

try:
    import psutil
except ImportError:
    sys.exit("bench needs psutil: sh tools/ensure-packages.sh python3-psutil")

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
BODY = b'{"message":"Hello, World!"}'
IDLE_REQUEST = b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n"
READY_TIMEOUT_S = 15
STOP_TIMEOUT_S = 5
NOISY_CPU = 0.10  # other processes using more than 10 % of a CPU during a wrk run: say so
MB = 1_000_000  # figures are in MB of 10^6 bytes, the stricter reading of the goals


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Unavailable(Exception):
    """A server that cannot be run here; the message is the reason printed in its row."""


# ---------------------------------------------------------------------------------------------
# HTTP client bits: one request and its full answer over a raw socket, no library in between.


def read_response(sock):
    """Reads one full HTTP/1.1 answer from sock; returns (status, headers dict, body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the answer's headers")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ConnectionError("not an HTTP answer: %r" % lines[0][:60])
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        length = int(headers["content-length"])
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed inside the body")
            rest += chunk
        return status, headers, rest[:length]
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed inside a chunked body")
            rest += chunk
        return status, headers, dechunk(rest)
    return status, headers, rest


def dechunk(data):
    body, pos = b"", 0
    while True:
        end = data.index(b"\r\n", pos)
        size = int(data[pos:end].split(b";")[0], 16)
        if size == 0:
            return body
        body += data[end + 2 : end + 2 + size]
        pos = end + 2 + size + 2


def get_json(port, timeout_s=2.0, headers=b""):
    """GET /json; headers: extra header lines, each ending in CRLF (a key a server asks for)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(b"GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n")
        return read_response(s)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------------------------
# Memory of a process tree.


def smaps_kb(pid, field):
    """A field of /proc/PID/smaps_rollup in kB (Rss, Pss, ...), or None if unreadable."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


# ---------------------------------------------------------------------------------------------
# Servers: how each is configured and started, and its lifecycle as our child.


class Server:
    def __init__(self, key, label, build, env=None, ready_timeout_s=READY_TIMEOUT_S):
        self.key = key
        self.label = label
        self.build = build  # build(tmp, port) -> argv; raises Unavailable
        self.env = env  # added to our environment for the server
        self.ready_timeout_s = ready_timeout_s
        self.ready_headers = b""  # header lines wait_ready's GET /json sends (an API key)
        self.t_start = None
        self.proc = None
        self.ps = None  # psutil handle of proc
        self.tmp = None
        self.port = None
        self.error = None  # why it was not (fully) measured
        self.r = {}  # results

    def start(self, pin):
        self.tmp = tempfile.mkdtemp(prefix="crest-bench-%s-" % self.key)
        os.chmod(self.tmp, 0o755)  # h2o, started as root, serves files as nobody
        self.port = free_port()
        argv = pin + self.build(self.tmp, self.port)
        with open(os.path.join(self.tmp, "stdio.log"), "wb") as out:
            try:
                env = dict(os.environ, **self.env) if self.env else None
                self.t_start = time.monotonic()
                self.proc = subprocess.Popen(argv, cwd=self.tmp, stdin=subprocess.DEVNULL,
                                             stdout=out, stderr=subprocess.STDOUT, env=env)
            except OSError as e:
                raise Unavailable("cannot start %s: %s" % (argv[0], e.strerror or e))
        self.ps = psutil.Process(self.proc.pid)

    def log_tail(self):
        text = ""
        for name in ("stdio.log", "error.log"):
            try:
                with open(os.path.join(self.tmp, name), errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        lines = [l for l in text.strip().splitlines() if l.strip()]
        return " / ".join(lines[-2:])[:200] if lines else "no output"

    def wait_ready(self):
        """Waits for the first 200 to GET /json; checks its body and records the time from the
        start to that answer in r["start_s"]. Raises Unavailable."""
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Unavailable("exited with %d at start: %s" % (self.proc.returncode,
                                                                   self.log_tail()))
            try:
                status, headers, body = get_json(self.port, timeout_s=1.0,
                                                 headers=self.ready_headers)
            except (OSError, ValueError):
                time.sleep(0.005)  # the start time's resolution
                continue
            if status != 200:
                raise Unavailable("GET /json answers %d" % status)
            try:
                if json.loads(body) != json.loads(BODY):
                    raise ValueError
            except ValueError:
                raise Unavailable("GET /json answers 200 with body %r" % body[:60])
            self.r["start_s"] = time.monotonic() - self.t_start
            return
        raise Unavailable("no answer to GET /json within %d s: %s" % (self.ready_timeout_s,
                                                                     self.log_tail()))

    def tree(self):
        if self.ps is None:
            return []
        try:
            return [self.ps] + self.ps.children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def rss_psutil(self):
        total = 0
        for p in self.tree():
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def smaps_bytes(self, field):
        total = 0
        for p in self.tree():
            kb = smaps_kb(p.pid, field)
            if kb is None:
                return None
            total += kb * 1024
        return total

    def stop(self):
        if self.proc is not None:
            stop_tree(self.proc, self.tree())
            self.proc = self.ps = None
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


def stop_tree(proc, tree):
    """SIGTERM to our child, SIGKILL after STOP_TIMEOUT_S; then any of its descendants (taken
    before the signal, checked against pid reuse by psutil) that outlived it."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for p in tree[1:]:
        try:
            if p.is_running():
                p.kill()
        except psutil.Error:
            pass


def make_build_nginx(idle_conns):
    def build(tmp, port):
        nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx",
                                                                         os.X_OK) else None)
        if not nginx:
            raise Unavailable("nginx not installed (sh tools/ensure-packages.sh nginx-light)")
        # keepalive_requests: nginx closes a connection after 1,000 requests by default, which
        # would make wrk reconnect; a high limit measures nginx at its best.
        conf = """worker_processes 1;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/error.log;
worker_rlimit_nofile %(nofile)d;
events {
    worker_connections %(conns)d;
}
http {
    access_log off;
    default_type application/json;
    keepalive_requests 1000000000;
    client_body_temp_path %(tmp)s/body;
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            return 200 '%(body)s';
        }
    }
}
""" % {"tmp": tmp, "port": port, "conns": idle_conns + 1024, "nofile": 2 * idle_conns + 2048,
       "body": BODY.decode()}
        path = os.path.join(tmp, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        return [nginx, "-e", os.path.join(tmp, "error.log"), "-p", tmp, "-c", path,
                "-g", "daemon off;"]
    return build


def make_build_h2o(idle_conns):
    def build(tmp, port):
        h2o = shutil.which("h2o")
        if not h2o:
            raise Unavailable("h2o not installed (sh tools/ensure-packages.sh h2o)")
        www = os.path.join(tmp, "www")
        os.mkdir(www)
        os.chmod(www, 0o755)
        with open(os.path.join(www, "json"), "wb") as f:
            f.write(BODY)
        # No pid-file: started as root, h2o opens it after dropping to nobody, which cannot
        # write here; we have the pid anyway.
        conf = """num-threads: 1
max-connections: %(conns)d
error-log: %(tmp)s/error.log
file.mime.setdefaulttype: application/json
listen:
  host: 127.0.0.1
  port: %(port)d
hosts:
  default:
    paths:
      /:
        file.dir: %(www)s
""" % {"tmp": tmp, "port": port, "conns": idle_conns + 1024, "www": www}
        path = os.path.join(tmp, "h2o.conf")
        with open(path, "w") as f:
            f.write(conf)
        return [h2o, "-c", path]
    return build


# ---------------------------------------------------------------------------------------------
# Load and idle connections.

WRK_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
WRK_PCT = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s|m)\s*$", re.M)
WRK_ERR = re.compile(r"^\s+(Socket errors:.*|Non-2xx or 3xx responses:.*)$", re.M)
UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(out):
    """{rps, p50, p99 (ms), warn?} from a finished wrk (CompletedProcess), or {error}."""
    m = WRK_RPS.search(out.stdout)
    if not m:
        return {"error": "wrk: " + (out.stderr.strip() or out.stdout.strip())[-120:]}
    res = {"rps": float(m.group(1))}
    for pct, value, unit in WRK_PCT.findall(out.stdout):
        res["p" + pct] = float(value) * UNIT_MS[unit]
    errors = WRK_ERR.findall(out.stdout)
    if errors:
        res["warn"] = "; ".join(e.strip() for e in errors)
    return res


def wrk_json(server, seconds, conns, pin, pipelined=False):
    """wrk -t1 on GET /json of server: keep-alive, --latency, or pipelined 16 deep
    (pipeline.lua); {rps, p50, p99, warn?, noisy?} or {error}."""
    argv = pin + ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds]
    argv += ["-s", os.path.join(BENCH_DIR, "pipeline.lua")] if pipelined else ["--latency"]
    argv.append("http://127.0.0.1:%d/json" % server.port)
    before = cpu_snapshot(server)
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        return {"error": "wrk did not stop"}
    others = others_cpu(server, before, cpu_snapshot(server))
    res = parse_wrk(out)
    if "rps" in res and others > NOISY_CPU:
        res["noisy"] = others
    return res


def cpu_snapshot(server):
    """(wall s, CPU s busy machine-wide, CPU s of the server tree, CPU s of waited children)."""
    t = psutil.cpu_times()
    busy = sum(t) - t.idle - getattr(t, "iowait", 0) - getattr(t, "guest", 0) \
        - getattr(t, "guest_nice", 0)
    own = 0.0
    for p in server.tree():
        try:
            c = p.cpu_times()
            own += c.user + c.system
        except psutil.NoSuchProcess:
            pass
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.monotonic(), busy, own, kids.ru_utime + kids.ru_stime


def others_cpu(server, a, b):
    """Share of one CPU that processes other than the server and wrk used between a and b."""
    wall = b[0] - a[0]
    if wall <= 0:
        return 0.0
    return max(0.0, (b[1] - a[1]) - (b[2] - a[2]) - (b[3] - a[3])) / wall


def idle_conn_bytes(server, n):
    """Opens n keep-alive connections, one answered GET each, holds them 1 s; returns
    (bytes per connection, None) or (None, why it failed)."""
    before = server.smaps_bytes("Rss")
    if before is None:
        return None, "smaps_rollup unreadable"
    socks = []
    deadline = time.monotonic() + 120
    try:
        for i in range(n):
            if time.monotonic() > deadline:
                return None, "fails: too slow, %d connections in 120 s" % i
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            socks.append(s)
            s.sendall(IDLE_REQUEST)
            status, _, _ = read_response(s)
            if status != 200:
                return None, "fails: answer %d on connection %d" % (status, i + 1)
        time.sleep(1)
        after = server.smaps_bytes("Rss")
        closed = sum(1 for s in socks if peer_closed(s))
        if closed:
            return None, "fails: server closed %d of %d idle connections" % (closed, n)
        return (after - before) / n, None
    except (OSError, ValueError) as e:
        why = "timeout" if isinstance(e, socket.timeout) else (e.strerror or str(e))
        return None, "fails: %s at connection %d" % (why, len(socks))
    finally:
        for s in socks:
            s.close()


def peer_closed(sock):
    sock.setblocking(False)  # with a timeout set, recv would first wait that long for data
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


# ---------------------------------------------------------------------------------------------
# Report.


def fmt_mb(b):
    return "—" if b is None else "%.2f MB" % (b / MB)


def fmt_rps(x):
    return "—" if x is None else "{:,.0f}".format(x)


def fmt_ms(x):
    return "—" if x is None else "%.2f ms" % x


def first_line(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    text = (out.stdout + out.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def raise_nofile(need):
    """Soft RLIMIT_NOFILE to hard, for us and the servers we start (they inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass  # an infinite hard limit cannot be the soft one for files: keep what we have
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < need:
        sys.exit("bench: %d open files are needed; the limit is %d" % (need, soft))


def pinning():
    """(server prefix, load prefix): taskset to CPU 0 and CPU 1 with 2 CPUs or more, else none."""
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", "0"], ["taskset", "-c", "1"]
    return [], []


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"
