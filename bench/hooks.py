#!/usr/bin/python3
"""bench/hooks.py: what hooks cost on GET /json (issue 16). The same crest binary, 1 worker, three
ways: no hook; CORS on (crest --cors-allow-origins: one hook with a before and an after, which
requests without an Origin pass through, the after hook looking the header up); CORS answering every request
(an allowed Origin on each: three response headers added). Requests/s plain and pipelined 16
deep (bench/pipeline.lua), best of interleaved rounds, each as a ratio of the no-hook server's in
the same run, since this machine's absolute figures move between days.

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
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import BENCH_DIR, Server, Unavailable, cpu_model, log, parse_wrk, pinning  # noqa: E402
import accounting  # noqa: E402  (instructions per request under callgrind)

ORIGIN = "https://app.example"
VARIANTS = [
    ("none", "no hook", [], []),
    ("noop", "CORS hook, no Origin sent (its after hook looks it up)", ["--cors-allow-origins", ORIGIN], []),
    ("cors", "CORS hook answering (Origin sent)", ["--cors-allow-origins", ORIGIN],
     ["-H", "Origin: " + ORIGIN]),
]


def build(binary, flags):
    def argv(tmp, port):
        return [binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                "--quiet", "--db", os.path.join(tmp, "crest.db")] + flags
    return argv


def wrk(pin, port, seconds, conns, pipelined, headers):
    argv = pin + ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds] + headers
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
    server_pin, wrk_pin = pinning()
    best = {(k, kind): 0.0 for k, _, _, _ in VARIANTS for kind in ("plain", "pipelined")}
    for rnd in range(args.rounds):
        for key, label, flags, headers in VARIANTS:
            s = Server(key, label, build(args.crest, flags))
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
    lines = ["# What hooks cost on GET /json (bench/hooks.py)", "",
             "Measured on %s (%s) by `/usr/bin/python3 bench/hooks.py`: crest 1 worker on CPU 0, "
             "wrk -t1 -c%d -d%ds on CPU 1, best of %d interleaved rounds; ratios against the "
             "no-hook server of the same run." % (datetime.date.today().isoformat(), cpu_model(),
                                                  args.conns, args.seconds, args.rounds),
             "", "| server | plain req/s | ratio | pipelined-16 req/s | ratio |",
             "|---|---|---|---|---|"]
    for key, label, _, _ in VARIANTS:
        row = ["%s" % label]
        for kind in ("plain", "pipelined"):
            base, rps = best[("none", kind)], best[(key, kind)]
            row += ["{:,.0f}".format(rps) if rps else "not measured",
                    "%.3f" % (rps / base) if rps and base else "—"]
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", "Instructions per GET /json under callgrind (20,000 requests pipelined 16 deep, "
              "after 2,000; exact, whatever else the machine runs):", "",
              "| server | instructions per request | ratio |", "|---|---|---|"]
    base = None
    for key, label, flags, headers in VARIANTS:
        header = (headers[1] + "\r\n").encode() if headers else b""
        ir = accounting.instructions_per_request(args.crest, 20000, flags, header)
        base = base or ir
        lines.append("| %s | %.0f | %.3f |" % (label, ir, ir / base))
        log("%s: %.0f instructions per request" % (key, ir))
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
