#!/usr/bin/python3
"""bench/bodies.py: large bodies in bounded memory (issue 18). The realtime example
(build/examples/realtime) beside nginx (Debian nginx-light, 1 worker, a temporary config), both on
127.0.0.1 and fed the same bytes in the same run:

1. A 1 GiB file to 8 readers at once. Slow: each reads 2 MB/s for --slow-seconds; the figure is
   the server's RSS growth meanwhile (the goal: at most 1 MiB). Fast: 8 curl processes read it
   whole; the figure is the aggregate throughput. crest serves it from its static mount
   (/files/..., sendfile), nginx from `location /files/ { alias ...; sendfile on; }`.
2. A 1 GiB upload, with Content-Length and chunked (curl -T, Expect disabled), one at a time:
   the server's RSS growth during it and the throughput. crest takes it on POST /upload as a
   stream, counting only (?hash=0) and hashing with SHA-256 (the default); nginx's equivalent is
   `client_max_body_size 0; return 200`, which reads the body only to discard it
   (ngx_http_discard_request_body): the same work as crest's count-only upload, no hash.

RSS is VmRSS of /proc/PID/status sampled every 5 ms; the baseline is taken after a warm-up
transfer, so what is measured is what the transfer itself costs. A benchmark, not a test: it
exits 0 once it has measured. Servers are its children on free ports, stopped by pid.

Run: /usr/bin/python3 bench/bodies.py [--realtime build/examples/realtime] [--slow-seconds 5]
     [--out bench/results/bodies.md]
"""

import argparse
import datetime
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import cpu_model, free_port, log  # noqa: E402

GIB = 1 << 30
READERS = 8


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Peak:
    """The highest RSS of pid while the with-block runs, sampled every 5 ms."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0, threading.Event()

    def __enter__(self):
        self.base = rss(self.pid)
        self.peak = self.base
        self.thread = threading.Thread(target=self.sample)
        self.thread.start()
        return self

    def sample(self):
        while not self.stop.is_set():
            self.peak = max(self.peak, rss(self.pid))
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    @property
    def growth(self):
        return self.peak - self.base


def wait_port(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %d" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError("server did not listen")


def start_crest(binary, root, tmp):
    port = free_port()
    proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                             "--root", root], cwd=tmp, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, port, "/upload?hash=0"


def start_nginx(root, tmp):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""worker_processes 1;
pid %(tmp)s/nginx.pid;
error_log %(tmp)s/error.log;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    client_body_temp_path %(tmp)s/body;
    server {
        listen 127.0.0.1:%(port)d;
        location /files/ { alias %(root)s/; }
        location /upload { client_max_body_size 0; return 200 '{"ok":true}'; }
    }
}
""" % {"tmp": tmp, "port": port, "root": root})
    proc = subprocess.Popen([nginx, "-e", os.path.join(tmp, "error.log"), "-p", tmp, "-c", conf,
                             "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, port, "/upload"


def stop(proc):
    proc.terminate()  # by pid: our child
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def slow_reader(port, seconds, rate, got):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(b"GET /files/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = bytearray(16384)
    n, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        n += s.recv_into(buf)
        ahead = n / rate - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
    got.append(n)
    s.close()
    if n < rate * seconds / 2:
        raise RuntimeError("a slow reader got %d bytes only" % n)


def slow_readers(pid, port, seconds):
    got = []
    threads = [threading.Thread(target=slow_reader, args=(port, seconds, 2e6, got))
               for _ in range(READERS)]
    with Peak(pid) as peak:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return peak.growth, sum(got)


def curl(*args):
    return subprocess.Popen(["curl", "-s", "-S", "-o", "/dev/null", "-H", "Expect:"] + list(args))


def fast_readers(pid, port):
    with Peak(pid) as peak:
        t0 = time.monotonic()
        procs = [curl("-f", "http://127.0.0.1:%d/files/big.bin" % port) for _ in range(READERS)]
        for p in procs:
            if p.wait() != 0:
                raise RuntimeError("curl failed")
        elapsed = time.monotonic() - t0
    return peak.growth, READERS * GIB / elapsed


def upload(pid, port, path, src, chunked):
    extra = ["-f", "-X", "POST"] + (["-H", "Transfer-Encoding: chunked"] if chunked else [])
    curl(*extra, "-T", src.replace("big", "warm"), "http://127.0.0.1:%d%s" % (port, path)).wait()
    with Peak(pid) as peak:
        t0 = time.monotonic()
        if curl(*extra, "-T", src, "http://127.0.0.1:%d%s" % (port, path)).wait() != 0:
            raise RuntimeError("curl upload failed")
        elapsed = time.monotonic() - t0
    return peak.growth, GIB / elapsed


def measure(name, start, args, root, src, slow_seconds):
    tmp = tempfile.mkdtemp(prefix="crest-bodies-")
    proc, port, upload_path = start(*args, root, tmp) if args else start(root, tmp)
    r = {}
    try:
        fast_readers(proc.pid, port)  # warm-up: buffers and page cache
        r["slow"] = slow_readers(proc.pid, port, slow_seconds)
        r["fast"] = fast_readers(proc.pid, port)
        r["cl"] = upload(proc.pid, port, upload_path, src, False)
        r["chunked"] = upload(proc.pid, port, upload_path, src, True)
        if name == "crest":
            r["cl_sha"] = upload(proc.pid, port, "/upload", src, False)
            r["chunked_sha"] = upload(proc.pid, port, "/upload", src, True)
        log("%s: %r" % (name, r))
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    return r


def kib(b):
    return "%+d KiB" % round(b / 1024)


def gbs(x):
    return "%.2f GB/s" % (x / 1e9)


def report(crest, nginx, slow_seconds, cmd):
    rows = [
        ("1 GiB file, 8 readers at 2 MB/s for %d s: RSS growth" % slow_seconds,
         kib(crest["slow"][0]), kib(nginx["slow"][0]), ""),
        ("1 GiB file, 8 curl readers at full speed: RSS growth", kib(crest["fast"][0]),
         kib(nginx["fast"][0]), ""),
        ("1 GiB file, 8 curl readers at full speed: throughput", gbs(crest["fast"][1]),
         gbs(nginx["fast"][1]), "%.2f" % (crest["fast"][1] / nginx["fast"][1])),
    ]
    for key, label in (("cl", "Content-Length"), ("chunked", "chunked")):
        rows.append(("1 GiB upload, %s: RSS growth" % label, kib(crest[key][0]),
                     kib(nginx[key][0]), ""))
        rows.append(("1 GiB upload, %s: throughput (crest counting only)" % label,
                     gbs(crest[key][1]), gbs(nginx[key][1]), "%.2f" % (crest[key][1] /
                                                                        nginx[key][1])))
        rows.append(("1 GiB upload, %s, crest hashing SHA-256: RSS growth, throughput" % label,
                     "%s, %s" % (kib(crest[key + "_sha"][0]), gbs(crest[key + "_sha"][1])), "—",
                     ""))
    out = ["# Large bodies: crest's realtime example beside nginx",
           "",
           "Measured on %s (%s) by `%s`: bench/bodies.py's method (its docstring). nginx: Debian "
           "nginx-light, 1 worker, `sendfile on` for the file, `client_max_body_size 0; return "
           "200` for the upload (it reads the body to discard it). crest: 1 worker, the static "
           "mount for the file, POST /upload?hash=0 (count only) and POST /upload (SHA-256)."
           % (datetime.date.today().isoformat(), cpu_model(), cmd),
           "",
           "| transfer | crest | nginx | crest / nginx |",
           "|---|---|---|---|"]
    out += ["| %s | %s | %s | %s |" % row for row in rows]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--realtime", default="build/examples/realtime")
    ap.add_argument("--slow-seconds", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "results", "bodies.md"))
    a = ap.parse_args()
    root = tempfile.mkdtemp(prefix="crest-bodies-root-")
    os.chmod(root, 0o755)  # nginx's worker, started by root, reads as nobody
    try:
        src = os.path.join(root, "big.bin")
        with open(src, "wb") as f:  # 1 GiB of varied bytes, and a small file to warm up with
            block = os.urandom(1 << 20)
            for i in range(1024):
                f.write(block[i:] + block[:i])
        os.chmod(src, 0o644)
        with open(os.path.join(root, "warm.bin"), "wb") as f:
            f.write(block * 8)
        os.chmod(os.path.join(root, "warm.bin"), 0o644)
        crest = measure("crest", start_crest, (os.path.abspath(a.realtime),), root, src,
                        a.slow_seconds)
        nginx = measure("nginx", start_nginx, (), root, src, a.slow_seconds)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    cmd = "/usr/bin/python3 bench/bodies.py --slow-seconds %d" % a.slow_seconds
    text = report(crest, nginx, a.slow_seconds, cmd)
    with open(a.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
