#!/usr/bin/python3
"""bench/gzip_libs.py: why crest compresses with libdeflate (docs/dependencies.md). Builds
bench/gzip_libs.c against Debian's libdeflate-dev and zlib1g-dev, takes the 10 KB JSON body of
examples/middleware.c's GET /catalog from a running example, and writes a table of the heap each
library's compressor holds and its time per KB, levels 1, 6 and 9, on this machine (CPU 0).

A benchmark, not a test. Run: /usr/bin/python3 bench/gzip_libs.py [--example
build/examples/middleware] [--rounds 2000] [--out bench/results/gzip_libs.md]"""
import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import BENCH_DIR, Server, cpu_model, pinning  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--example", default="build/examples/middleware")
    ap.add_argument("--rounds", type=int, default=2000)
    ap.add_argument("--out", default=os.path.join(BENCH_DIR, "results", "gzip_libs.md"))
    args = ap.parse_args()
    example = os.path.abspath(args.example)
    pin, _ = pinning()
    with tempfile.TemporaryDirectory() as tmp:
        binary = os.path.join(tmp, "gzip_libs")
        subprocess.run(["cc", "-O2", "-o", binary, os.path.join(BENCH_DIR, "gzip_libs.c"),
                        "-ldeflate", "-lz"], check=True)
        s = Server("ex", "example", lambda t, port: [example, "serve", "--host", "127.0.0.1",
                                                      "--port", str(port), "--workers", "1"])
        try:
            s.start([])
            s.wait_ready()
            with urllib.request.urlopen("http://127.0.0.1:%d/catalog" % s.port) as r:
                body = r.read()
        finally:
            s.stop()
        path = os.path.join(tmp, "catalog.json")
        with open(path, "wb") as f:
            f.write(body)
        out = subprocess.run(pin + [binary, path, str(args.rounds)], capture_output=True,
                             text=True, check=True).stdout
    lines = ["# Compression libraries on a %d-byte JSON body (bench/gzip_libs.py)" % len(body), "",
             "Measured on %s (%s) by `/usr/bin/python3 bench/gzip_libs.py`: gzip format, %d "
             "rounds, CPU 0. State: the heap a compressor holds (zlib: each stream, so each "
             "response compressed at once; libdeflate: one per worker, reused). zlib's time "
             "includes deflateInit2/deflateEnd, which a server pays per response." % (
                 datetime.date.today().isoformat(), cpu_model(), args.rounds), "",
             "| library | level | compressor state | ns per KB | compressed bytes |",
             "|---|---|---|---|---|"]
    for row in out.strip().splitlines():
        lib, level, state, ns, n = row.split("\t")
        lines.append("| %s | %s | %s B | %s | %s |" % (lib, level, "{:,}".format(int(state)),
                                                       "{:,}".format(int(ns)), n))
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
