#!/usr/bin/python3
"""bench/hooks.py: what hooks cost (issue 16). The same crest binary, 1 worker. On GET /json, three
ways: no hook; CORS on (crest --cors-allow-origins: one hook with a before and an after, which
requests without an Origin pass through, the after hook looking the header up); CORS answering every request
(an allowed Origin on each: three response headers added). Bearer authentication guards only
the item writes (crest --api-key-file), so its rows send POST /items with the body {}, answered
422 by validation after the hooks (no store call; bench/post_invalid.lua): no key file; bearer
auth with a valid key (the Authorization header found, checked for one field, parsed, compared in
constant time against the file's keys); CORS and bearer auth together. Requests/s plain and
pipelined 16 deep (bench/pipeline.lua), best of interleaved rounds, each as a ratio of the
no-hook server's for the same request in the same run, since this machine's absolute figures move
between days.

A benchmark, not a test: it exits 0 once it has measured. Servers are its children on free
127.0.0.1 ports, stopped by pid.

The exact figure is the second table, instructions per request under callgrind; on this shared
machine requests/s move by 10 to 20 % between runs of the same binary, which is more than what a
hook costs, so --rounds 0 measures the instructions alone.

Run: /usr/bin/python3 bench/hooks.py --crest build/crest [--seconds 5] [--rounds 3]
     [--out bench/results/hooks.md]
"""

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import BENCH_DIR, Server, Unavailable, cpu_model, log, parse_wrk, pinning  # noqa: E402
import accounting  # noqa: E402  (instructions per request under callgrind)

ORIGIN = "https://app.example"
KEY = "bench-key-0123456789abcdef"
KEY_FILE = "@keys"  # replaced by the temporary key file's path
CORS = ["--cors-allow-origins", ORIGIN]
AUTH = ["-H", "Authorization: Bearer " + KEY]
# (key, label, crest flags, wrk headers, request: GET /json or the POST /items {} → 422)
VARIANTS = [
    ("none", "no hook", [], [], "get"),
    ("noop", "CORS hook, no Origin sent (its after hook looks it up)", CORS, [], "get"),
    ("cors", "CORS hook answering (Origin sent)", CORS, ["-H", "Origin: " + ORIGIN], "get"),
    ("post", "POST /items {} → 422, no hook", [], [], "post"),
    ("bearer", "POST /items {} → 422, bearer auth (valid key)", ["--api-key-file", KEY_FILE],
     AUTH, "post"),
    ("cors_bearer", "POST /items {} → 422, CORS answering + bearer auth",
     CORS + ["--api-key-file", KEY_FILE], AUTH + ["-H", "Origin: " + ORIGIN], "post"),
]
BASELINE = {"get": "none", "post": "post"}
POST_422 = (b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\n%s\r\n{}")


def with_key_file(flags, path):
    return [path if f == KEY_FILE else f for f in flags]


def build(binary, flags):
    def argv(tmp, port):
        return [binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                "--quiet", "--db", os.path.join(tmp, "crest.db")] + flags
    return argv


def wrk(pin, port, seconds, conns, pipelined, headers, request="get"):
    argv = pin + ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds] + headers
    if request == "post":
        argv += ["-s", os.path.join(BENCH_DIR, "post_invalid.lua"),
                 "http://127.0.0.1:%d/items" % port, "--", "16" if pipelined else "1"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        return parse_wrk(out).get("rps", 0.0)
    argv += ["-s", os.path.join(BENCH_DIR, "pipeline.lua")] if pipelined else ["--latency"]
    argv.append("http://127.0.0.1:%d/json" % port)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    return parse_wrk(out).get("rps", 0.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crest", default="build/crest")
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(BENCH_DIR, "results", "hooks.md"))
    args = ap.parse_args()
    args.crest = os.path.abspath(args.crest)  # the servers run in temporary directories
    keys_dir = tempfile.mkdtemp(prefix="crest-bench-keys-")
    key_file = os.path.join(keys_dir, "keys")
    with open(key_file, "w") as f:
        f.write("another-key\n%s\nthird-key-of-the-file\n" % KEY)
    try:
        return measure(args, key_file)
    finally:
        shutil.rmtree(keys_dir)


def measure(args, key_file):
    server_pin, wrk_pin = pinning()
    best = {(v[0], kind): 0.0 for v in VARIANTS for kind in ("plain", "pipelined")}
    for rnd in range(args.rounds):
        for key, label, flags, headers, request in VARIANTS:
            s = Server(key, label, build(args.crest, with_key_file(flags, key_file)))
            try:
                s.start(server_pin)
                s.wait_ready()
                for kind in ("plain", "pipelined"):
                    rps = wrk(wrk_pin, s.port, args.seconds, args.conns, kind == "pipelined",
                              headers, request)
                    best[(key, kind)] = max(best[(key, kind)], rps)
                    log("round %d %s %s: %.0f req/s" % (rnd + 1, key, kind, rps))
            except Unavailable as e:
                log("%s: %s" % (key, e))
            finally:
                s.stop()
    lines = ["# What hooks cost (bench/hooks.py)", "",
             "Measured on %s (%s) by `/usr/bin/python3 bench/hooks.py`: crest 1 worker on CPU 0, "
             "wrk -t1 -c%d -d%ds on CPU 1, best of %d interleaved rounds; ratios against the "
             "no-hook server of the same run." % (datetime.date.today().isoformat(), cpu_model(),
                                                  args.conns, args.seconds, args.rounds),
             "", "| server | plain req/s | ratio | pipelined-16 req/s | ratio |",
             "|---|---|---|---|---|"]
    for key, label, _, _, request in VARIANTS:
        row = ["%s" % label]
        for kind in ("plain", "pipelined"):
            base, rps = best[(BASELINE[request], kind)], best[(key, kind)]
            row += ["{:,.0f}".format(rps) if rps else "not measured",
                    "%.3f" % (rps / base) if rps and base else "—"]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Instructions per request under callgrind (20,000 requests pipelined 16 deep, "
              "after 2,000; exact, whatever else the machine runs), each ratio against the "
              "no-hook server answering the same request:", "",
              "| server | instructions per request | ratio |", "|---|---|---|"]
    irs = {}
    for key, label, flags, headers, request in VARIANTS:
        header = "".join(h + "\r\n" for h in headers[1::2]).encode()
        if request == "post":
            ir = accounting.instructions_per_request(
                args.crest, 20000, with_key_file(flags, key_file),
                request=POST_422 % header, status=b"422")
        else:
            ir = accounting.instructions_per_request(args.crest, 20000, flags, header)
        irs[key] = ir
        lines.append("| %s | %.0f | %.3f |" % (label, ir, ir / irs[BASELINE[request]]))
        log("%s: %.0f instructions per request" % (key, ir))
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
