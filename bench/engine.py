#!/usr/bin/python3
"""bench/engine.py: crest's HTTP engine against the ceiling and its peers (shared/ANCHORS.md).

Serves GET /json -> {"message":"Hello, World!"} from crest (1 worker), the bare epoll reference
server (bench/ref_server.c, built here), nginx (`return 200`, 1 worker) and h2o (1 thread, static
file), each pinned to CPU 0 with wrk pinned to CPU 1, and measures per server: RSS and PSS at
ready, bytes per idle keep-alive connection, plain keep-alive and pipelined-16 requests/s (best of
interleaved rounds), p50/p99 latency and RSS after load; then checks crest's goals.

A benchmark, not a test: it always exits 0 once it has measured, whatever the goals say. It
starts every server as its own child on a free 127.0.0.1 port, stops each by its pid (SIGTERM,
then SIGKILL) and removes its temporary directories, also when interrupted.

Run: /usr/bin/python3 bench/engine.py --crest build/crest [--servers crest,ref,nginx,h2o]
     [--seconds 5] [--conns 100] [--rounds 3] [--idle-conns 5000] [--out bench/results/engine.md]
"""

import argparse
import datetime
import json
import os
import platform
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
    sys.exit("engine.py needs psutil: sh tools/ensure-packages.sh python3-psutil")

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
BODY = b'{"message":"Hello, World!"}'
IDLE_REQUEST = b"GET /json HTTP/1.1\r\nHost: x\r\n\r\n"
READY_TIMEOUT_S = 15
STOP_TIMEOUT_S = 5
NOISY_CPU = 0.10  # other processes using more than 10 % of a CPU during a wrk run: say so
MB = 1_000_000  # figures are in MB of 10^6 bytes, the stricter reading of the goals

# Goals from shared/ANCHORS.md, as set for the engine alone.
GOAL_PLAIN_RATIO = 0.95
GOAL_PIPELINED_RATIO = 0.5
GOAL_RSS_2_WORKERS = 1.5 * MB
GOAL_RSS_ITEMS_2_WORKERS = 2.5 * MB  # the items issue: the SQLite store open
GOAL_IDLE_BYTES = 128

ALL_SERVERS = ("crest", "ref", "nginx", "h2o")


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


def get_json(port, timeout_s=2.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(b"GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
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
    def __init__(self, key, label, build):
        self.key = key
        self.label = label
        self.build = build  # build(tmp, port) -> argv; raises Unavailable
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
                self.proc = subprocess.Popen(argv, cwd=self.tmp, stdin=subprocess.DEVNULL,
                                             stdout=out, stderr=subprocess.STDOUT)
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
        """Waits for the first 200 to GET /json; checks its body. Raises Unavailable."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Unavailable("exited with %d at start: %s" % (self.proc.returncode,
                                                                   self.log_tail()))
            try:
                status, headers, body = get_json(self.port, timeout_s=1.0)
            except (OSError, ValueError):
                time.sleep(0.02)
                continue
            if status != 200:
                raise Unavailable("GET /json answers %d" % status)
            try:
                if json.loads(body) != json.loads(BODY):
                    raise ValueError
            except ValueError:
                raise Unavailable("GET /json answers 200 with body %r" % body[:60])
            return
        raise Unavailable("no answer to GET /json within %d s: %s" % (READY_TIMEOUT_S,
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


def build_ref(tmp, port):
    return [REF_BIN, str(port)]


def make_build_crest(binary, workers):
    def build(tmp, port):
        if not binary or not os.access(binary, os.X_OK):
            raise Unavailable("%s not found (make build)" % (binary or "crest binary"))
        return [binary, "serve", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers)]
    return build


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


def run_wrk(args, server, pipelined):
    port = server.port
    argv = WRK_PIN + ["wrk", "-t1", "-c%d" % args.conns, "-d%ds" % args.seconds]
    argv += ["-s", os.path.join(BENCH_DIR, "pipeline.lua")] if pipelined else ["--latency"]
    argv.append("http://127.0.0.1:%d/json" % port)
    before = cpu_snapshot(server)
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=args.seconds + 60)
    except subprocess.TimeoutExpired:
        return {"error": "wrk did not stop"}
    others = others_cpu(server, before, cpu_snapshot(server))
    m = WRK_RPS.search(out.stdout)
    if not m:
        return {"error": "wrk: " + (out.stderr.strip() or out.stdout.strip())[-120:]}
    res = {"rps": float(m.group(1))}
    if others > NOISY_CPU:
        res["noisy"] = others
    for pct, value, unit in WRK_PCT.findall(out.stdout):
        res["p" + pct] = float(value) * UNIT_MS[unit]
    errors = WRK_ERR.findall(out.stdout)
    if errors:
        res["warn"] = "; ".join(e.strip() for e in errors)
    return res


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


def machine_header(args, crest_bin, busy_pct):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    nginx = first_line(["nginx", "-v"]).replace("nginx version: ", "")
    h2o = first_line(["h2o", "--version"]).replace("h2o version ", "h2o/")
    wrk = " ".join(first_line(["wrk", "-v"]).split()[:2])
    pin = ("servers on CPU 0, wrk on CPU 1 (taskset)" if WRK_PIN
           else "no pinning (fewer than 2 CPUs)")
    crest = ""
    if "crest" in args.servers and crest_bin and os.access(crest_bin, os.X_OK):
        crest = "%s (%s), " % (first_line([crest_bin, "--version"]),
                               os.path.relpath(crest_bin, REPO_DIR))
    return [
        "# crest engine benchmark",
        "",
        "- date: %s" % datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %z"),
        "- CPU: %s, %d cores; kernel %s" % (cpu, os.cpu_count() or 0, platform.release()),
        "- servers: %s%s, %s; load: %s" % (crest, nginx, h2o, wrk),
        "- load: wrk -t1 -c%d -d%ds, plain (--latency) and pipelined 16 deep (bench/pipeline.lua), "
        "best of %d interleaved rounds; %s" % (args.conns, args.seconds, args.rounds, pin),
        "- CPU in use by other processes before the run: %.0f %% of the machine "
        "(load from others makes figures noisier)" % busy_pct,
        "- idle: %d keep-alive connections, one GET /json each, Rss from smaps_rollup; "
        "MB = 10^6 bytes" % args.idle_conns,
        "",
    ]


def table(servers, ready_only):
    rows = ["| server | RSS at ready | PSS at ready | B / idle conn | plain req/s | p50 | p99 "
            "| pipelined-16 req/s | RSS after load |",
            "|---|---|---|---|---|---|---|---|---|"]
    for s in servers:
        r = s.r
        if "rss_ready" not in r:
            rows.append("| %s | not run: %s | — | — | — | — | — | — | — |" % (s.label, s.error))
            continue
        idle = ("%d" % round(r["idle"])) if r.get("idle") is not None else r.get("idle_err", "—")
        plain, pipe = r.get("plain", {}), r.get("pipelined", {})
        rows.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            s.label, fmt_mb(r["rss_ready"]), fmt_mb(r.get("pss_ready")), idle,
            fmt_rps(plain.get("rps")) if "rps" in plain else plain.get("error", "—"),
            fmt_ms(plain.get("p50")), fmt_ms(plain.get("p99")),
            fmt_rps(pipe.get("rps")) if "rps" in pipe else pipe.get("error", "—"),
            fmt_mb(r.get("rss_after"))))
    for extra in ready_only:
        r = extra.r
        if "rss_ready" in r:
            rows.append("| %s | %s | %s | — | — | — | — | — | — |" % (
                extra.label, fmt_mb(r["rss_ready"]), fmt_mb(r.get("pss_ready"))))
        else:
            rows.append("| %s | not run: %s | — | — | — | — | — | — | — |" % (extra.label,
                                                                           extra.error))
    return rows


def verdict(ok):
    return "PASS" if ok else "MISS"


def goals(by_key, crest2, engine2):
    def rps(key, kind):
        s = by_key.get(key)
        return s.r.get(kind, {}).get("rps") if s else None

    lines = ["", "## crest against its goals", ""]
    cp, rp = rps("crest", "plain"), rps("ref", "plain")
    cq, rq = rps("crest", "pipelined"), rps("ref", "pipelined")
    ratio_p = cp / rp if cp and rp else None
    ratio_q = cq / rq if cq and rq else None
    lines.append("crest / reference: plain %s, pipelined-16 %s" % (
        "%.2f×" % ratio_p if ratio_p else "n/a", "%.2f×" % ratio_q if ratio_q else "n/a"))
    lines += ["", "| goal | measured | result |", "|---|---|---|"]

    def row(goal, measured, ok):
        lines.append("| %s | %s | %s |" % (goal, measured,
                                          "n/a" if ok is None else verdict(ok)))

    row("plain req/s ≥ %.2f × reference" % GOAL_PLAIN_RATIO,
        "%.2f×" % ratio_p if ratio_p else "—", None if ratio_p is None else
        ratio_p >= GOAL_PLAIN_RATIO)
    row("pipelined-16 req/s ≥ %.1f × reference" % GOAL_PIPELINED_RATIO,
        "%.2f×" % ratio_q if ratio_q else "—", None if ratio_q is None else
        ratio_q >= GOAL_PIPELINED_RATIO)
    peers = [(k, rps(k, "pipelined")) for k in ("nginx", "h2o")]
    peers = [(k, v) for k, v in peers if v]
    # ANCHORS.md: ahead of every peer measured in the same run.
    if cq and peers:
        row("pipelined-16 req/s ahead of every peer measured (nginx, h2o)",
            "crest %s vs %s" % (fmt_rps(cq), ", ".join("%s %s" % (k, fmt_rps(v))
                                                       for k, v in peers)),
            all(cq > v for _, v in peers))
    else:
        row("pipelined-16 req/s ahead of every peer measured (nginx, h2o)", "—", None)
    rss_engine = engine2.r.get("rss_ready") if engine2 else None
    row("RSS at ready, engine alone, 2 workers ≤ %.1f MB" % (GOAL_RSS_2_WORKERS / MB),
        fmt_mb(rss_engine), None if rss_engine is None else rss_engine <= GOAL_RSS_2_WORKERS)
    rss2 = crest2.r.get("rss_ready") if crest2 else None
    row("RSS at ready, crest with its SQLite store open, 2 workers ≤ %.1f MB"
        % (GOAL_RSS_ITEMS_2_WORKERS / MB), fmt_mb(rss2),
        None if rss2 is None else rss2 <= GOAL_RSS_ITEMS_2_WORKERS)
    crest = by_key.get("crest")
    idle = crest.r.get("idle") if crest else None
    idle_err = crest.r.get("idle_err") if crest else None
    row("bytes per idle keep-alive connection ≤ %d B" % GOAL_IDLE_BYTES,
        "%d B" % round(idle) if idle is not None else (idle_err or "—"),
        idle <= GOAL_IDLE_BYTES if idle is not None else (False if idle_err else None))
    return lines


# ---------------------------------------------------------------------------------------------
# The run.


def measure_ready(s):
    s.wait_ready()
    time.sleep(1)
    s.r["rss_ready"] = s.rss_psutil()
    s.r["pss_ready"] = s.smaps_bytes("Pss")


def keep_best(s, kind, res, notes, round_no):
    if "noisy" in res:
        notes.append("%s, %s, round %d: others (processes, softirq, steal) used %.0f %% of a CPU meanwhile (%s req/s)"
                     % (s.key, kind, round_no, 100 * res["noisy"], fmt_rps(res["rps"])))
    if "warn" in res:
        notes.append("%s, %s, round %d: %s" % (s.key, kind, round_no, res["warn"]))
    if "rps" not in res:
        s.r.setdefault(kind, res)
        notes.append("%s, %s, round %d: %s" % (s.key, kind, round_no, res["error"]))
        return
    if s.r.get(kind, {}).get("rps", -1) < res["rps"]:
        s.r[kind] = res


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--crest", default="build/crest", help="crest binary (default build/crest)")
    ap.add_argument("--servers", default=",".join(ALL_SERVERS),
                    help="comma list of crest,ref,nginx,h2o (default all)")
    ap.add_argument("--seconds", type=int, default=5, help="length of one wrk run")
    ap.add_argument("--conns", type=int, default=100, help="wrk connections")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; best one counts")
    ap.add_argument("--idle-conns", type=int, default=5000, help="idle keep-alive connections")
    ap.add_argument("--out", default=os.path.join("bench", "results", "engine.md"))
    args = ap.parse_args()
    args.servers = [k.strip() for k in args.servers.split(",") if k.strip()]
    unknown = [k for k in args.servers if k not in ALL_SERVERS]
    if unknown or not args.servers:
        ap.error("--servers: unknown %s (choose from %s)" % (",".join(unknown),
                                                            ",".join(ALL_SERVERS)))
    if min(args.seconds, args.conns, args.rounds, args.idle_conns) < 1:
        ap.error("--seconds, --conns, --rounds and --idle-conns must be positive")
    return args


def raise_nofile(need):
    """Soft RLIMIT_NOFILE to hard, for us and the servers we start (they inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError):
        pass  # an infinite hard limit cannot be the soft one for files: keep what we have
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft != resource.RLIM_INFINITY and soft < need:
        sys.exit("engine.py: --idle-conns needs %d open files; the limit is %d" % (need, soft))


def build_ref_server():
    os.makedirs(os.path.dirname(REF_BIN), exist_ok=True)
    src = os.path.join(BENCH_DIR, "ref_server.c")
    cc = os.environ.get("CC", "cc")
    out = subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-o", REF_BIN, src],
                         capture_output=True, text=True)
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        raise Unavailable("cc failed: %s" % (lines[-1] if lines else "exit %d" % out.returncode))


def build_engine_app(crest_bin):
    """bench/engine_app.c (libcrest with its built-in routes only) linked as crest.pc says, from
    the libcrest.a next to the crest binary measured."""
    lib = os.path.join(os.path.dirname(crest_bin or ""), "libcrest.a")
    if not os.path.exists(lib):
        raise Unavailable("%s not found (make build)" % lib)
    os.makedirs(os.path.dirname(ENGINE_BIN), exist_ok=True)
    cc = os.environ.get("CC", "cc")
    argv = [cc, "-O2", "-static", "-Wl,--gc-sections", "-I", os.path.join(BENCH_DIR, "..", "include"),
            os.path.join(BENCH_DIR, "engine_app.c"), lib, "-lsqlite3", "-lpthread", "-lm",
            "-o", ENGINE_BIN]
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        raise Unavailable("cc failed: %s" % (lines[-1] if lines else "exit %d" % out.returncode))


def on_signal(signum, frame):
    raise SystemExit(128 + signum)  # unwinds through main's finally, which stops the children


REF_BIN = os.path.join(BENCH_DIR, "build", "ref_server")
ENGINE_BIN = os.path.join(BENCH_DIR, "build", "engine_app")
SERVER_PIN = []
WRK_PIN = []


def main():
    global SERVER_PIN, WRK_PIN
    args = parse_args()
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)
    if not shutil.which("wrk"):
        sys.exit("engine.py needs wrk: sh tools/ensure-packages.sh wrk nginx-light h2o "
                 "python3-psutil")
    raise_nofile(args.idle_conns + 256)
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        SERVER_PIN, WRK_PIN = ["taskset", "-c", "0"], ["taskset", "-c", "1"]
    crest_bin = os.path.abspath(args.crest) if args.crest else None

    makers = {
        "crest": lambda: Server("crest", "crest, 1 worker", make_build_crest(crest_bin, 1)),
        "ref": lambda: Server("ref", "reference: bare epoll + canned reply", build_ref),
        "nginx": lambda: Server("nginx", "nginx `return 200`, 1 worker",
                                make_build_nginx(args.idle_conns)),
        "h2o": lambda: Server("h2o", "h2o, 1 thread, static file", make_build_h2o(args.idle_conns)),
    }
    servers = [makers[k]() for k in ALL_SERVERS if k in args.servers]
    by_key = {s.key: s for s in servers}
    crest2 = (Server("crest2", "crest, 2 workers (RSS at ready only)",
                     make_build_crest(crest_bin, 2)) if "crest" in by_key else None)
    engine2 = (Server("engine2", "crest engine alone (libcrest, built-in routes), 2 workers "
                      "(RSS at ready only)", make_build_crest(ENGINE_BIN, 2))
               if "crest" in by_key else None)
    busy_pct = psutil.cpu_percent(interval=1.0)
    notes = []
    live = []
    try:
        if "ref" in by_key:
            try:
                build_ref_server()
            except Unavailable as e:
                by_key["ref"].error = str(e)
        if engine2 is not None:
            try:
                build_engine_app(crest_bin)
            except Unavailable as e:
                engine2.error = str(e)
        for extra in (crest2, engine2):
            if extra is None or extra.error:
                continue
            log("%s: RSS at ready" % extra.label)
            try:
                extra.start(SERVER_PIN)
                measure_ready(extra)
            except Unavailable as e:
                extra.error = str(e)
            finally:
                extra.stop()
        for s in servers:
            if s.error:
                continue
            log("%s: starting" % s.key)
            try:
                live.append(s)
                s.start(SERVER_PIN)
                measure_ready(s)
            except Unavailable as e:
                s.error = str(e)
                s.r.pop("rss_ready", None)
                live.remove(s)
                s.stop()
        for round_no in range(1, args.rounds + 1):
            order = live[round_no - 1 :] + live[: round_no - 1]  # rotate who runs first
            for kind in ("plain", "pipelined"):
                for s in order:
                    log("round %d/%d, %s: %s" % (round_no, args.rounds, kind, s.key))
                    res = run_wrk(args, s, kind == "pipelined")
                    keep_best(s, kind, res, notes, round_no)
                    if s.proc.poll() is not None:
                        notes.append("%s exited with %d during %s load" % (
                            s.key, s.proc.returncode, kind))
                    time.sleep(0.5)
        for s in live:
            if s.proc.poll() is None:
                s.r["rss_after"] = s.rss_psutil()
        for s in live:
            if s.proc.poll() is not None:
                s.r["idle_err"] = "exited"
                continue
            log("%s: %d idle connections" % (s.key, args.idle_conns))
            t0 = time.monotonic()
            s.r["idle"], s.r["idle_err"] = idle_conn_bytes(s, args.idle_conns)
            log("%s: idle test took %.1f s" % (s.key, time.monotonic() - t0))
            time.sleep(0.5)
    finally:
        for s in live:
            s.stop()

    lines = machine_header(args, crest_bin, busy_pct) + table(
        servers, [x for x in (crest2, engine2) if x is not None])
    if "crest" in by_key:
        lines += goals(by_key, crest2, engine2)
    if notes:
        lines += ["", "Notes:"] + ["- " + n for n in notes]
    report = "\n".join(lines) + "\n"
    print(report, end="")
    out = args.out
    if os.path.dirname(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(report)
    log("written to %s" % out)


if __name__ == "__main__":
    main()
