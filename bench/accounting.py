#!/usr/bin/python3
"""What crest's memory accounting costs, and how much of the heap it sees.

Builds crest twice (the normal build, and one with -DCREST_NO_ACCOUNTING=ON, where the per-tag
counting compiles to nothing), runs both on CPU 0 with wrk on CPU 1, interleaved, best of N rounds:
GET /json plain and pipelined 16 deep. Goal (observability issue): accounting costs <= 3 % req/s.
Beside req/s, the server's CPU time per request (from /proc, best of the rounds): on a machine
other processes share, req/s swings with their load, CPU per request less. And, when valgrind is
installed, instructions per request under callgrind, which nothing else running can change.
Then, after a load run on the normal build (2 workers, GET /json), reads /debug/memory: tracked
bytes against glibc's in-use heap (mallinfo2(): uordblks + hblkhd), goal >= 95 %; and again after
a run of POST /items and GET /items/1 (SQLite reads and writes on both workers), for comparison.

    /usr/bin/python3 bench/accounting.py [--seconds 5] [--rounds 3] [--out bench/results/accounting.md]
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
sys.path.insert(0, BENCH_DIR)

import engine  # noqa: E402  (Server, run_wrk, machine header helpers)
import lib  # noqa: E402  (free_port)


def build(dirname, extra):
    subprocess.run(["cmake", "-S", REPO, "-B", os.path.join(REPO, dirname),
                    "-DCMAKE_BUILD_TYPE=Release", "-DCREST_TESTS=OFF", *extra],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", os.path.join(REPO, dirname), "-j2", "--target", "crest"],
                   check=True, stdout=subprocess.DEVNULL)
    return os.path.join(REPO, dirname, "crest")


def server_cpu_s(server):
    t = server.ps.cpu_times()
    return t.user + t.system


def run_one(server, args, pipelined):
    """(req/s, server CPU microseconds per request or None, noisy?) of one wrk run."""
    cpu0 = server_cpu_s(server)
    res = engine.run_wrk(args, server, pipelined=pipelined)
    cpu = server_cpu_s(server) - cpu0
    rps = res.get("rps", 0.0)
    per_req = cpu / (rps * args.seconds) * 1e6 if rps else None
    return rps, per_req, "noisy" in res


def memory_doc(server):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/debug/memory" % server.port,
                                    timeout=5) as r:
            return json.loads(r.read())
    except (OSError, ValueError):
        return None


def items_load(server, args):
    """POST /items, then GET /items/1, each for --seconds: SQLite writes and reads."""
    base = "http://127.0.0.1:%d" % server.port
    pin = engine.WRK_PIN
    for extra in (["-s", os.path.join(BENCH_DIR, "items_post.lua"), base],
                  [base + "/items/1"]):
        subprocess.run(pin + ["wrk", "-t1", "-c%d" % args.conns, "-d%ds" % args.seconds] + extra,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=args.seconds + 60)


def coverage(server, args):
    """(tracked, heap) after GET /json load, then after items load (None where not served)."""
    engine.run_wrk(args, server, pipelined=False)
    after_json = memory_doc(server)
    items_load(server, args)
    after_items = memory_doc(server)
    pick = (lambda d: (d.get("tracked_bytes"), d.get("heap_in_use_bytes")) if d else None)
    return pick(after_json), pick(after_items)


def send_requests(port, n, deadline_s=120.0, header=b"", request=None, status=b"200"):
    """n GET /json (or n of request, whole requests as bytes, each answered status) on one
    keep-alive connection, 16 per write, each batch answered in full; header: an extra header line
    ("Origin: ...\r\n") on each GET /json."""
    req = request or b"GET /json HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n"
    end = time.monotonic() + deadline_s
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            break
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)
    with sock:
        done = 0
        while done < n:
            k = min(16, n - done)
            sock.sendall(req * k)
            got = b""
            while got.count(b"HTTP/1.1 " + status) < k:
                data = sock.recv(65536)
                if not data:
                    raise OSError("crest closed the connection")
                got += data
            done += k


def callgrind_ir(binary, n, flags=(), header=b"", request=None, status=b"200"):
    """Instructions crest (1 worker, with flags) executes from start to exit when serving n
    requests (each with header; or n of request, answered status)."""
    with tempfile.TemporaryDirectory() as tmp:
        port = lib.free_port()
        out = os.path.join(tmp, "cg.out")
        proc = subprocess.Popen(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out,
                                 binary, "serve", "--host", "127.0.0.1", "--port", str(port),
                                 "--workers", "1", *flags], cwd=tmp, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            send_requests(port, n, header=header, request=request, status=status)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
        with open(out) as f:
            return sum(int(line.split()[1]) for line in f if line.startswith("totals:"))


def instructions_per_request(binary, n=20000, flags=(), header=b"", request=None, status=b"200"):
    """(Ir of start + 2000 + n requests - Ir of start + 2000 requests) / n: exact, and blind to
    whatever else the machine runs."""
    return (callgrind_ir(binary, 2000 + n, flags, header, request, status) -
            callgrind_ir(binary, 2000, flags, header, request, status)) / n


def cov_line(label, cov, goal):
    if not cov or cov[0] is None or not cov[1]:
        return "- %s: /debug/memory not served by this build" % label
    ratio = cov[0] / cov[1] * 100
    verdict = (": PASS" if ratio >= 95 else ": MISS") if goal else ""
    return ("- %s: tracked %d B of %d B heap in use = %.1f %%%s%s"
            % (label, cov[0], cov[1], ratio, " (goal >= 95 %)" if goal else "", verdict))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--conns", type=int, default=100)
    ap.add_argument("--no-callgrind", action="store_true",
                    help="skip counting instructions per request under valgrind")
    ap.add_argument("--out", default=os.path.join(BENCH_DIR, "results", "accounting.md"))
    args = ap.parse_args()

    with_acct = build("build-bench-acct", [])
    without = build("build-bench-noacct", ["-DCREST_NO_ACCOUNTING=ON"])
    pin = ["taskset", "-c", "0"] if os.cpu_count() >= 2 else []
    # engine.run_wrk pins wrk with engine.WRK_PIN, which only engine.main sets
    engine.WRK_PIN = ["taskset", "-c", "1"] if os.cpu_count() >= 2 else []
    best = {"on": [0.0, 0.0], "off": [0.0, 0.0]}
    cpu = {"on": [None, None], "off": [None, None]}  # least server CPU us per request
    noisy = 0
    for r in range(args.rounds):
        for key, binary in (("on", with_acct), ("off", without)):
            s = engine.Server(key, key, engine.make_build_crest(binary, 1))
            try:
                s.start(pin)
                s.wait_ready()
                runs = [run_one(s, args, pipelined) for pipelined in (False, True)]
            finally:
                s.stop()
            for i, (rps, per_req, was_noisy) in enumerate(runs):
                best[key][i] = max(best[key][i], rps)
                if per_req is not None and (cpu[key][i] is None or per_req < cpu[key][i]):
                    cpu[key][i] = per_req
                noisy += was_noisy
            print("round %d, accounting %s: plain %.0f, pipelined %.0f req/s; "
                  "CPU %s, %s us/request" % (r + 1, key, runs[0][0], runs[1][0],
                                             fmt_us(runs[0][1]), fmt_us(runs[1][1])), flush=True)

    ir = None
    if shutil.which("valgrind") and not args.no_callgrind:
        ir = {key: instructions_per_request(binary)
              for key, binary in (("on", with_acct), ("off", without))}

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
             "interleaved rounds; CPU: the server's user + system time per request, least of "
             "the rounds" % (args.conns, args.seconds, args.rounds), "",
             "| build | plain req/s | pipelined-16 req/s | plain CPU us/req | "
             "pipelined CPU us/req |", "|---|---|---|---|---|"]
    for key, label in (("on", "accounting on (release)"), ("off", "accounting compiled out")):
        lines.append("| %s | %s | %s | %s | %s |"
                     % (label, engine.fmt_rps(best[key][0]), engine.fmt_rps(best[key][1]),
                        fmt_us(cpu[key][0]), fmt_us(cpu[key][1])))
    lines.append("")
    for i, kind in enumerate(("plain", "pipelined-16")):
        off = best["off"][i] or 1.0
        cost = (1 - best["on"][i] / off) * 100
        line = ("- %s: accounting costs %.1f %% req/s (goal <= 3 %%): %s"
                % (kind, cost, "PASS" if cost <= 3 else "MISS"))
        if cpu["on"][i] and cpu["off"][i]:
            line += "; CPU per request %+.1f %%" % ((cpu["on"][i] / cpu["off"][i] - 1) * 100)
        lines.append(line)
    if ir:
        lines.append("- instructions per GET /json (callgrind, 20,000 requests pipelined 16 deep, "
                     "1 worker): %.0f with accounting, %.0f without: %+.1f %%"
                     % (ir["on"], ir["off"], (ir["on"] / ir["off"] - 1) * 100))
    if noisy:
        lines.append("- %d of %d wrk runs had other processes using more than 10 %% of a CPU: "
                     "rerun on a quieter machine for firmer req/s" % (noisy, 4 * args.rounds))
    lines.append(cov_line("coverage after GET /json load (2 workers)", cov[0], True))
    lines.append(cov_line("after POST /items + GET /items/1 load", cov[1], False))
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


def fmt_us(v):
    return "%.2f" % v if v is not None else "n/a"


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
