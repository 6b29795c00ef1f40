#!/usr/bin/python3
"""What crest's memory accounting costs, and how much of the heap it sees.

Builds crest twice (the normal build, and one with -DCREST_NO_ACCOUNTING=ON, where the per-tag
counting compiles to nothing), runs both on CPU 0 with wrk on CPU 1, interleaved, best of N rounds:
GET /json plain and pipelined 16 deep. Goal (observability issue): accounting costs <= 3 % req/s.
Then, after a load run on the normal build, reads /debug/memory: tracked bytes against glibc's
in-use heap (mallinfo2().uordblks), goal >= 95 %.

    /usr/bin/python3 bench/accounting.py [--seconds 5] [--rounds 3] [--out bench/results/accounting.md]
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)

import engine  # noqa: E402  (Server, run_wrk, machine header helpers)


def build(dirname, extra):
    subprocess.run(["cmake", "-S", REPO, "-B", os.path.join(REPO, dirname),
                    "-DCMAKE_BUILD_TYPE=Release", "-DCREST_TESTS=OFF", *extra],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", os.path.join(REPO, dirname), "-j2", "--target", "crest"],
                   check=True, stdout=subprocess.DEVNULL)
    return os.path.join(REPO, dirname, "crest")


def measure(server, args):
    plain = engine.run_wrk(args, server, pipelined=False)
    piped = engine.run_wrk(args, server, pipelined=True)
    return plain.get("rps", 0.0), piped.get("rps", 0.0)


def coverage(server, args):
    """Tracked / heap in use after a load run, from /debug/memory (None if not served)."""
    engine.run_wrk(args, server, pipelined=False)
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/debug/memory" % server.port,
                                    timeout=5) as r:
            doc = json.loads(r.read())
    except (OSError, ValueError):
        return None
    return doc.get("tracked_bytes"), doc.get("heap_in_use_bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--out", default=os.path.join(BENCH_DIR, "results", "accounting.md"))
    args = ap.parse_args()

    with_acct = build("build-bench-acct", [])
    without = build("build-bench-noacct", ["-DCREST_NO_ACCOUNTING=ON"])
    pin = ["taskset", "-c", "0"] if os.cpu_count() >= 2 else []
    best = {"on": [0.0, 0.0], "off": [0.0, 0.0]}
    for r in range(args.rounds):
        for key, binary in (("on", with_acct), ("off", without)):
            s = engine.Server(key, key, engine.make_build_crest(binary, 1))
            try:
                s.start(pin)
                s.wait_ready()
                plain, piped = measure(s, args)
            finally:
                s.stop()
            best[key] = [max(best[key][0], plain), max(best[key][1], piped)]
            print("round %d, accounting %s: plain %.0f, pipelined %.0f req/s"
                  % (r + 1, key, plain, piped), flush=True)

    s = engine.Server("cov", "cov", engine.make_build_crest(with_acct, 2))
    try:
        s.start(pin)
        s.wait_ready()
        cov = coverage(s, args)
    finally:
        s.stop()

    lines = ["# Memory accounting: cost and coverage", "",
             "- date: %s" % time.strftime("%Y-%m-%d %H:%M:%S %z"),
             "- CPU: %s, %d cores" % (engine_cpu(), os.cpu_count()),
             "- load: wrk -t1 -c%d -d%ds on CPU 1, crest (1 worker) on CPU 0; best of %d "
             "interleaved rounds" % (args.conns, args.seconds, args.rounds), "",
             "| build | plain req/s | pipelined-16 req/s |", "|---|---|---|"]
    for key, label in (("on", "accounting on (release)"), ("off", "accounting compiled out")):
        lines.append("| %s | %s | %s |" % (label, engine.fmt_rps(best[key][0]),
                                           engine.fmt_rps(best[key][1])))
    lines.append("")
    for i, kind in enumerate(("plain", "pipelined-16")):
        off = best["off"][i] or 1.0
        cost = (1 - best["on"][i] / off) * 100
        lines.append("- %s: accounting costs %.1f %% req/s (goal <= 3 %%): %s"
                     % (kind, cost, "PASS" if cost <= 3 else "MISS"))
    if cov and cov[0] is not None and cov[1]:
        ratio = cov[0] / cov[1] * 100
        lines.append("- coverage after load: tracked %d B of %d B heap in use = %.1f %% "
                     "(goal >= 95 %%): %s" % (cov[0], cov[1], ratio,
                                              "PASS" if ratio >= 95 else "MISS"))
    else:
        lines.append("- coverage: /debug/memory not served by this build")
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


def engine_cpu():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    main()
