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

Then, on examples/middleware.c (one binary, each middleware a flag; an app on crest.h alone), the
issue's rule "an empty chain costs nothing measurable; one no-op hook costs <= 2 % on pipelined
/json": no hook, one hook whose before returns NEXT (no after), CORS + rate limit together (the
place for bearer auth, another helper's, is marked), and all four of proxies, request IDs, CORS
and rate limit; requests/s and instructions per request, as ratios of the example without hooks.

And compression: GET /catalog (a 10 KB JSON array) with Accept-Encoding: gzip on the example with
--gzip (libdeflate, level 1), beside the same route without it and nginx's `gzip on` (level 1, its
default; the same bytes from a file), wrk -c100 in the same run; the server CPU per request gives crest's cost
per KB compressed, and the RSS at 50 and at 500 open connections while compressing gives the bytes
each connection costs (with the "gzip" tag of /debug/memory: what the workers' compressors hold).

A benchmark, not a test: it exits 0 once it has measured. Servers are its children on free
127.0.0.1 ports, stopped by pid.

The exact figure is the second table, instructions per request under callgrind; on this shared
machine requests/s move by 10 to 20 % between runs of the same binary, which is more than what a
hook costs, so --rounds 0 measures the instructions alone.

Run: /usr/bin/python3 bench/hooks.py --crest build/crest [--seconds 5] [--rounds 3]
     [--example build/examples/middleware] [--out bench/results/hooks.md]
"""

import argparse
import datetime
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import (BENCH_DIR, BODY, Server, Unavailable, cpu_model, cpu_snapshot, log,  # noqa: E402
                 parse_wrk, pinning)
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


# examples/middleware.c's variants: (key, label, flags, wrk/callgrind header)
EXAMPLE_VARIANTS = [
    ("ex-none", "example, no hook", [], []),
    ("ex-noop", "one no-op hook (before returns NEXT, no after)", ["--noop-hook"], []),
    ("ex-stack", "CORS + rate limit (Origin sent; every request counted, none refused)",
     ["--cors", ORIGIN, "--rate-limit", "1000000000"], ["-H", "Origin: " + ORIGIN]),
    ("ex-auth", "CORS + bearer auth + rate limit (Origin and a valid key sent)",
     ["--cors", ORIGIN, "--bearer", KEY, "--rate-limit", "1000000000"],
     ["-H", "Origin: " + ORIGIN, "-H", "Authorization: Bearer " + KEY]),
    ("ex-all", "proxies + request ID + CORS + rate limit",
     ["--trust-proxies", "127.0.0.1", "--request-id", "--cors", ORIGIN, "--rate-limit",
      "1000000000"], ["-H", "Origin: " + ORIGIN]),
]
GZIP_LEVEL = 1  # crest_gzip's default, and nginx's gzip_comp_level (its default too)


def build(binary, flags, db=True):
    """The crest binary's command line (its items service on a temporary SQLite file), or with
    db=False the middleware example's, which refuses flags it does not know."""
    def argv(tmp, port):
        return ([binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                 "--quiet"] + (["--db", os.path.join(tmp, "crest.db")] if db else []) + flags)
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
    ap.add_argument("--example", default="build/examples/middleware")
    ap.add_argument("--out", default=os.path.join(BENCH_DIR, "results", "hooks.md"))
    args = ap.parse_args()
    args.crest = os.path.abspath(args.crest)  # the servers run in temporary directories
    args.example = os.path.abspath(args.example)
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
    lines += example_section(args, server_pin, wrk_pin)
    lines += gzip_section(args, server_pin, wrk_pin)
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


def example_section(args, server_pin, wrk_pin):
    """The issue's hook rows on examples/middleware.c, as ratios of the example without hooks."""
    best = {(k, kind): 0.0 for k, _, _, _ in EXAMPLE_VARIANTS for kind in ("plain", "pipelined")}
    for rnd in range(args.rounds):
        for key, label, flags, headers in EXAMPLE_VARIANTS:
            s = Server(key, label, build(args.example, flags, db=False))
            s.ready_headers = "".join(h + "\r\n" for h in headers[1::2]).encode()
            try:
                s.start(server_pin)
                s.wait_ready()
                for kind in ("plain", "pipelined"):
                    rps = wrk(wrk_pin, s.port, args.seconds, args.conns, kind == "pipelined",
                              headers)
                    best[(key, kind)] = max(best[(key, kind)], rps)
                    log("round %d %s %s: %.0f req/s" % (rnd + 1, key, kind, rps))
            except Unavailable as e:
                log("%s: %s" % (key, e))
            finally:
                s.stop()
    lines = ["", "## The hook rule on examples/middleware.c", "",
             "`build/examples/middleware` (an application on crest.h alone), 1 worker, GET /json; "
             "ratios against the same binary without hooks. The issue's rule: one no-op hook "
             "costs <= 2 % on pipelined /json.", "",
             "| app | plain req/s | ratio | pipelined-16 req/s | ratio | instructions per "
             "request | ratio |", "|---|---|---|---|---|---|---|"]
    base_ir = None
    for key, label, flags, headers in EXAMPLE_VARIANTS:
        header = "".join(h + "\r\n" for h in headers[1::2]).encode()
        ir = accounting.instructions_per_request(args.example, 20000, flags, header)
        base_ir = base_ir or ir
        log("%s: %.0f instructions per request" % (key, ir))
        row = [label]
        for kind in ("plain", "pipelined"):
            base, rps = best[("ex-none", kind)], best[(key, kind)]
            row += ["{:,.0f}".format(rps) if rps else "not measured",
                    "%.3f" % (rps / base) if rps and base else "—"]
        row += ["%.0f" % ir, "%.3f" % (ir / base_ir)]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def nginx_gzip(body_path):
    """nginx serving body_path at /catalog with gzip on (level GZIP_LEVEL), 1 worker."""
    def argv(tmp, port):
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not os.access(nginx, os.X_OK):
            raise Unavailable("nginx not installed (sh tools/ensure-packages.sh nginx-light)")
        conf = os.path.join(tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write("worker_processes 1;\npid %s/nginx.pid;\nerror_log %s/error.log;\n"
                    "events { worker_connections 2048; }\nhttp {\n access_log off;\n"
                    " keepalive_requests 1000000000;\n client_body_temp_path %s/body;\n"
                    " gzip on;\n gzip_comp_level %d;\n gzip_min_length 500;\n"
                    " gzip_types application/json;\n gzip_vary on;\n"
                    " server {\n  listen 127.0.0.1:%d;\n  location = /catalog {\n"
                    "   default_type application/json;\n   alias %s;\n  }\n"
                    "  location = /json {\n   default_type application/json;\n"
                    "   return 200 '%s';\n  }\n }\n}\n"
                    % (tmp, tmp, tmp, GZIP_LEVEL, port, body_path, BODY.decode()))
        return [nginx, "-e", os.path.join(tmp, "error.log"), "-p", tmp, "-c", conf,
                "-g", "daemon off;"]
    return argv


def wrk_catalog(pin, server, seconds, conns, gzip, mid=None):
    """(req/s, server CPU us per request) of GET /catalog; mid(server) runs halfway through."""
    argv = pin + ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds]
    if gzip:
        argv += ["-H", "Accept-Encoding: gzip"]
    argv.append("http://127.0.0.1:%d/catalog" % server.port)
    before = cpu_snapshot(server)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = None
    if mid:
        time.sleep(seconds / 2)
        seen = mid(server)
    out, err = proc.communicate(timeout=seconds + 60)
    after = cpu_snapshot(server)
    rps = parse_wrk(subprocess.CompletedProcess(argv, 0, out, err)).get("rps", 0.0)
    cpu_us = (after[2] - before[2]) / (rps * seconds) * 1e6 if rps else None
    return rps, cpu_us, seen


def gzip_tag_bytes(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/debug/memory" % port, timeout=5) as r:
            doc = json.loads(r.read())
    except (OSError, ValueError):
        return None
    return sum(t["live_bytes"] for t in doc.get("tags", []) if t["tag"] == "gzip")


def gzip_section(args, server_pin, wrk_pin):
    """crest's gzip beside nginx's on the same 10 KB body; CPU per KB; bytes per connection."""
    tmp = tempfile.mkdtemp(prefix="crest-bench-gzip-")
    s = Server("ex-plain", "plain", build(args.example, [], db=False))
    try:
        s.start(server_pin)
        s.wait_ready()
        with urllib.request.urlopen("http://127.0.0.1:%d/catalog" % s.port, timeout=5) as r:
            body = r.read()
    finally:
        s.stop()
    path = os.path.join(tmp, "catalog.json")
    with open(path, "wb") as f:
        f.write(body)
    os.chmod(tmp, 0o755)
    os.chmod(path, 0o644)
    servers = [("crest-gzip", "crest example --gzip 500 (libdeflate level %d)" % GZIP_LEVEL,
                build(args.example, ["--gzip", "500"], db=False), True),
               ("crest-plain", "crest example, no compression",
                build(args.example, [], db=False), False),
               ("nginx-gzip", "nginx `gzip on` (level %d), the same bytes from a file"
                % GZIP_LEVEL, nginx_gzip(path), True)]
    best = {k: (0.0, None) for k, _, _, _ in servers}
    per_conn = {}
    tag = None
    for rnd in range(args.rounds):
        for key, label, argv, gz in servers:
            s = Server(key, label, argv)
            try:
                s.start(server_pin)
                s.wait_ready()
                rps, cpu, _ = wrk_catalog(wrk_pin, s, args.seconds, args.conns, gz)
                log("round %d %s: %.0f req/s, %.1f us CPU per request" % (rnd + 1, key, rps,
                                                                         cpu or 0))
                if rps > best[key][0]:
                    best[key] = (rps, cpu)
                if rnd == 0 and gz:  # RSS with 50, then 500 connections compressing
                    rss = [wrk_catalog(wrk_pin, s, args.seconds, n, True,
                                       mid=lambda srv: srv.rss_psutil())[2] for n in (50, 500)]
                    per_conn[key] = (rss[1] - rss[0]) / 450.0
                    if key == "crest-gzip":
                        tag = gzip_tag_bytes(s.port)
            except Unavailable as e:
                log("%s: %s" % (key, e))
            finally:
                s.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    compressed = len(gzip.compress(body, GZIP_LEVEL))
    lines = ["", "## gzip on a %d-byte JSON body (GET /catalog)" % len(body), "",
             "wrk -t1 -c%d -d%ds with Accept-Encoding: gzip (the plain row without), 1 worker / "
             "1 nginx worker on CPU 0, best of %d rounds; server CPU per request from /proc. "
             "Python's gzip at the same level makes it %d bytes." % (
                 args.conns, args.seconds, args.rounds, compressed), "",
             "| server | req/s | ratio to nginx | server CPU us per request | RSS per connection "
             "while compressing (50 -> 500 conns) |", "|---|---|---|---|---|"]
    nginx_rps = best["nginx-gzip"][0]
    for key, label, _, _ in servers:
        rps, cpu = best[key]
        pc = per_conn.get(key)
        lines.append("| %s | %s | %s | %s | %s |" % (
            label, "{:,.0f}".format(rps) if rps else "not measured",
            "%.3f" % (rps / nginx_rps) if rps and nginx_rps else "—",
            "%.1f" % cpu if cpu else "—", "%.0f B" % pc if pc is not None else "—"))
    g, p = best["crest-gzip"][1], best["crest-plain"][1]
    lines.append("")
    if g and p:
        lines.append("- crest's compression cost: %.2f us of CPU per KB of body (%.1f us per "
                     "request, gzip minus plain, over %.1f KB)" % ((g - p) / (len(body) / 1024.0),
                                                                  g - p, len(body) / 1024.0))
    if tag is not None:
        lines.append("- the \"gzip\" memory tag after the runs (1 worker: its compressor and "
                     "output buffer, none per connection): %d bytes" % tag)
    return lines


if __name__ == "__main__":
    sys.exit(main())
