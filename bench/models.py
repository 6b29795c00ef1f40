#!/usr/bin/python3
"""bench/models.py: what binding and serializing through models cost per request on the items
routes, against the hand-written code they replace (issue 17: must not cost more).

bench/models_app.c (a copy of src/items/items.c's routes without the store, on crest.h alone) is
built against the build's libcrest.a and serves, on one worker, POST and GET of an item twice:
by hand (crest_req_json + crest_json_get, written field by field, as items.c) and through models
(crest_req_model, crest_res_model). Both answer the same bytes, which this script checks first.
Then, under callgrind, the instructions the server executes for 2,000 + N requests of one kind
minus those for 2,000, divided by N, all pipelined 16 deep on one connection: an exact count that
nothing else on this shared machine can move (requests/s here move 10-20 % between runs).

A benchmark, not a test: it exits 0 once it has measured. The server is its child on a free
127.0.0.1 port, stopped by pid.

Then requests/s, as the issue asks: wrk on 16 connections, each pipelining 16 requests, against
the server on one worker, hand-written and models alternating for --rounds rounds of --seconds
each; the medians' ratio (the order alternates so that drift on this shared machine falls on both).

Run: /usr/bin/python3 bench/models.py [--lib build/libcrest.a] [--n 20000] [--rounds 5]
     [--seconds 3] [--out bench/results/models.md]
"""

import argparse
import datetime
import os
import re
import statistics
import signal
import socket
import subprocess
import sys
import tempfile
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
ITEM = (b'{"name":"Foo","description":"A foo","price":35.4,"tax":3.2,'
        b'"tags":["a","bb"]}')


def request(method, path):
    body = ITEM if method == "POST" else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


KINDS = [  # (label, hand-written request, model request)
    ("POST /items (validate, bind, answer 201)", request("POST", "/hand/items"),
     request("POST", "/model/items")),
    ("GET /items/1 (serialize one item)", request("GET", "/hand/items/1"),
     request("GET", "/model/items/1")),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(lib, out):
    cmd = [os.environ.get("CC", "cc"), "-O2", "-static", "-Wl,--gc-sections", "-I",
           os.path.join(REPO, "include"), os.path.join(BENCH, "models_app.c"), lib, "-lsqlite3",
           "-lpthread", "-lm", "-o", out]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("cc failed:\n" + r.stderr[-2000:])


def connect(port, deadline_s=60.0):
    end = time.monotonic() + deadline_s
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=30)
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def send(port, req, n):
    """n copies of req, 16 per write, each batch answered in full; returns the last answer."""
    with connect(port) as sock:
        done, got = 0, b""
        while done < n:
            k = min(16, n - done)
            sock.sendall(req * k)
            got = b""
            while got.count(b"HTTP/1.1 20") < k or not got.endswith(b"}"):
                data = sock.recv(65536)
                if not data:
                    raise OSError("the server closed the connection")
                got += data
            done += k
        return got[got.rfind(b"HTTP/1.1"):]


def run(argv, port, req, n):
    proc = subprocess.Popen(argv + ["--host", "127.0.0.1", "--port", str(port)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        return send(port, req, n)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)


def ir(binary, req, n):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out, binary],
            free_port(), req, n)
        with open(out) as f:
            return sum(int(line.split()[1]) for line in f if line.startswith("totals:"))


def per_request(binary, req, n):
    return (ir(binary, req, 2000 + n) - ir(binary, req, 2000)) / n


PIPELINE_LUA = """
init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format(args[1], args[2], args[3] ~= "" and
      {["Content-Type"] = "application/json"} or nil, args[3] ~= "" and args[3] or nil) end
  req = table.concat(r)
end
request = function() return req end
"""


def rps(binary, method, path, body, seconds, lua):
    """Requests/s of wrk pipelining 16 deep on 16 connections against a fresh server."""
    port = free_port()
    proc = subprocess.Popen([binary, "--host", "127.0.0.1", "--port", str(port)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        connect(port).close()
        r = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "-s", lua,
                            f"http://127.0.0.1:{port}", "--", method, path, body.decode()],
                           capture_output=True, text=True, timeout=seconds + 60)
        m = re.search(r"Requests/sec:\s+([0-9.]+)", r.stdout)
        if not m or "Non-2xx" in r.stdout:
            sys.exit(f"wrk failed:\n{r.stdout}\n{r.stderr}")
        return float(m.group(1))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)


def throughput(binary, rounds, seconds, tmp):
    lua = os.path.join(tmp, "pipeline.lua")
    with open(lua, "w") as f:
        f.write(PIPELINE_LUA)
    rows = []
    for label, method, path, body in [("POST /items", "POST", "/items", ITEM),
                                      ("GET /items/1", "GET", "/items/1", b"")]:
        hand, model = [], []
        for i in range(rounds):
            order = [("hand", hand), ("model", model)]
            for way, out in order if i % 2 == 0 else order[::-1]:
                out.append(rps(binary, method, f"/{way}{path}", body, seconds, lua))
        h, m = statistics.median(hand), statistics.median(model)
        rows.append((label, h, m))
        print(f"{label}: hand {h:,.0f} req/s, models {m:,.0f} req/s ({m / h:.3f})", flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", default=os.path.join(REPO, "build", "libcrest.a"))
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(BENCH, "results", "models.md"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        binary = os.path.join(tmp, "models_app")
        build(args.lib, binary)
        for label, hand, model in KINDS:  # the same bytes answered both ways
            a, b = run([binary], free_port(), hand, 1), run([binary], free_port(), model, 1)
            if a.split(b"\r\n\r\n", 1)[1] != b.split(b"\r\n\r\n", 1)[1]:
                sys.exit(f"{label}: the answers differ:\n{a!r}\n{b!r}")
        rows = []
        for label, hand, model in KINDS:
            h, m = per_request(binary, hand, args.n), per_request(binary, model, args.n)
            rows.append((label, h, m))
            print(f"{label}: hand {h:,.0f}, models {m:,.0f} ({m / h:.3f})", flush=True)
        speed = throughput(binary, args.rounds, args.seconds, tmp)
    lines = [f"# Models against hand-written binding and serializing ({datetime.date.today()})",
             "", "Written by `bench/models.py`: instructions per request under callgrind, "
             f"{args.n:,} requests pipelined 16 deep on one connection, one worker, "
             "`bench/models_app.c` (the items routes without the store; both ways answer the "
             "same bytes).", "",
             "| request | hand-written | models | models / hand |", "|---|---:|---:|---:|"]
    lines += [f"| {label} | {h:,.0f} | {m:,.0f} | {m / h:.3f} |" for label, h, m in rows]
    lines += ["", f"Requests/s: wrk, 16 connections each pipelining 16 requests, one worker; the "
              f"median of {args.rounds} rounds of {args.seconds} s each way, alternating.", "",
              "| request | hand-written req/s | models req/s | models / hand |",
              "|---|---:|---:|---:|"]
    lines += [f"| {label} | {h:,.0f} | {m:,.0f} | {m / h:.3f} |" for label, h, m in speed]
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text, end="")


if __name__ == "__main__":
    main()
