#!/usr/bin/python3
"""bench/soak.py: crest's memory under 1,000,000 mixed requests (shared/ANCHORS.md: RSS growth from
10k to 1M mixed requests ≤ 256 KB).

A soak, not a test: it starts crest (1 worker, pinned to CPU 0) on a fresh SQLite file in a
temporary directory, seeds 1,000 items, then drives it with bench/soak_client.c (built here with
`cc -O2` into bench/build/, pinned to CPU 1) in phases: the first 10,000 requests, on to 100,000,
on to --requests. After each phase the client has closed its connections; 1 s later the server's
Rss (/proc/PID/smaps_rollup) is read. The mix (one request counter picking kinds from a fixed
table, a batch counter picking pipelined batches and connection ends) is described in
soak_client.c: reads, list pages, POST/PUT/PATCH/DELETE, chunked and long bodies, invalid bodies
(422), unknown ids and routes (404), 405, pipelined batches of 2..16, and a new connection every
40 batches (Connection: close, or a malformed request answered 400). Every answer's status is
checked. bench/items.py runs the same soak for its report.

Run: /usr/bin/python3 bench/soak.py --crest build/crest [--requests 1000000] [--conns 100]
     [--out FILE]
It prints RSS at 10k, 100k and the end, the growth and the goal; exits 0 once it has measured.
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no bench/__pycache__ from importing the modules below
sys.path.insert(0, BENCH_DIR)
import engine  # noqa: E402  (servers as children, smaps, the machine header's bits)

CLIENT_SRC = os.path.join(BENCH_DIR, "soak_client.c")
CLIENT_BIN = os.path.join(BENCH_DIR, "build", "soak_client")
CHECKPOINTS = (10_000, 100_000)
SEED_ITEMS = 1000
KB = 1000  # 10^3 bytes, as engine.py's MB are 10^6: the stricter reading of the goal
GOAL_GROWTH = 256 * KB
SETTLE_S = 1.0  # between a phase's end and the RSS reading


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build_client():
    """Compiles soak_client.c into bench/build/; raises engine.Unavailable with cc's complaint."""
    os.makedirs(os.path.dirname(CLIENT_BIN), exist_ok=True)
    cc = os.environ.get("CC", "cc")
    out = subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-o", CLIENT_BIN, CLIENT_SRC],
                         capture_output=True, text=True)
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        raise engine.Unavailable("cc failed: %s" % (lines[-1] if lines else
                                                    "exit %d" % out.returncode))


def crest_items_argv(binary, workers):
    """An engine.Server build function: crest serving the items API on tmp/items.db."""
    def build(tmp, port):
        if not binary or not os.access(binary, os.X_OK):
            raise engine.Unavailable("%s not found (make build)" % (binary or "crest binary"))
        return [binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers",
                str(workers), "--db", os.path.join(tmp, "items.db"), "--quiet"]
    return build


def seed(port, n=SEED_ITEMS):
    """POSTs n items over one keep-alive connection; returns the last id. Raises
    engine.Unavailable on any answer but 201."""
    last = None
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for i in range(1, n + 1):
            body = b'{"name":"item %d","price":%d.5,"tags":["seed"]}' % (i, i)
            s.sendall(b"POST /items HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                      b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            status, _, answer = engine.read_response(s)
            if status != 201:
                raise engine.Unavailable("seeding: POST /items answered %d: %r"
                                         % (status, answer[:80]))
            last = json.loads(answer)["id"]
    return last


def checkpoints(total):
    return sorted({c for c in CHECKPOINTS if c < total} | {total})


def kernel_threads_cpu():
    """CPU seconds used so far by kernel threads (kthreadd's children: kworkers doing block I/O and
    writeback, some of it for the server's fsyncs)."""
    total = 0.0
    for p in engine.psutil.process_iter(["ppid", "cpu_times"]):
        if p.info["ppid"] == 2 and p.info["cpu_times"]:
            total += p.info["cpu_times"].user + p.info["cpu_times"].system
    return total


def snapshot(server):
    return engine.cpu_snapshot(server), kernel_threads_cpu()


def server_cpu(server, before):
    """Share of one CPU the server's process tree used since `before` (a snapshot())."""
    after = engine.cpu_snapshot(server)
    wall = after[0] - before[0][0]
    return (after[2] - before[0][2]) / wall if wall > 0 else None


def others_note(server, before, what):
    """A note when processes other than the server and our children (softirq and steal
    included) used more than engine.NOISY_CPU of a CPU since `before`, or None."""
    after = snapshot(server)
    others = engine.others_cpu(server, before[0], after[0])
    if others <= engine.NOISY_CPU:
        return None
    wall = after[0][0] - before[0][0]
    # kernel threads that exited meanwhile drop out of the sum: never below 0
    kthreads = max(0.0, (after[1] - before[1]) / wall) if wall > 0 else 0.0
    return ("%s: others (processes, softirq, steal) used %.0f %% of a CPU meanwhile, kernel "
            "threads %.0f %% (block I/O and writeback for the server's fsyncs count there)"
            % (what, 100 * others, 100 * kthreads))


def run_soak(server, total, conns, pin, max_id):
    """Drives the running server through the phases; returns a list of phase dicts (requests,
    rss, seconds, connects, client stats), a list of problems seen and a list of notes (noise)."""
    phases, problems, notes = [], [], []
    done, counter, batch = 0, 0, 0
    for point in checkpoints(total):
        n = point - done
        argv = pin + [CLIENT_BIN, str(server.port), str(n), str(conns), str(counter), str(batch),
                      str(max_id)]
        log("soak: requests %s to %s" % ("{:,}".format(done + 1), "{:,}".format(point)))
        before = snapshot(server)
        try:
            out = subprocess.run(argv, capture_output=True, text=True,
                                 timeout=max(120, n / 2000))
        except subprocess.TimeoutExpired:
            problems.append("the soak client did not finish %d requests in time" % n)
            break
        noise = others_note(server, before, "requests to %s" % "{:,}".format(point))
        try:
            stats = json.loads(out.stdout)
        except ValueError:
            problems.append("soak client exited %d: %s" % (out.returncode,
                                                         (out.stderr or out.stdout).strip()[-160:]))
            break
        if server.proc.poll() is not None:
            problems.append("crest exited with %d during the soak" % server.proc.returncode)
            break
        time.sleep(SETTLE_S)
        rss = server.smaps_bytes("Rss")
        anon = server.smaps_bytes("Anonymous")
        counter, batch, max_id = stats["counter"], stats["batch"], stats["max_id"]
        done = point
        phases.append({"requests": point, "rss": rss, "anon": anon, "seconds": stats["seconds"],
                       "rps": n / stats["seconds"] if stats["seconds"] else None,
                       "connects": stats["connects"], "stats": stats})
        log("soak: %s requests, Rss %s" % ("{:,}".format(point), fmt_kb(rss)))
        if stats["lost"] or stats["unexpected"]:
            problems.append("requests to %s: %d lost, %d unexpected answers (first: %s)" % (
                "{:,}".format(point), stats["lost"], stats["unexpected"], stats["example"]))
        if out.returncode == 2:
            problems.append("soak client: %s" % stats["example"])
            break
        if noise:
            notes.append(noise)
    return phases, problems, notes


def hwm_bytes(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def soak_crest(crest_bin, total, conns, server_pin, client_pin):
    """Starts crest (1 worker) on a fresh database, seeds it and soaks it. Returns a dict:
    rss_ready, phases, problems, hwm, error."""
    res = {"phases": [], "problems": [], "notes": []}
    s = engine.Server("soak", "crest, 1 worker", crest_items_argv(crest_bin, 1))
    try:
        build_client()
        s.start(server_pin)
        s.wait_ready()
        time.sleep(SETTLE_S)
        res["rss_ready"] = s.smaps_bytes("Rss")
        res["anon_ready"] = s.smaps_bytes("Anonymous")
        max_id = seed(s.port)
        time.sleep(SETTLE_S)
        res["rss_seeded"] = s.smaps_bytes("Rss")
        res["anon_seeded"] = s.smaps_bytes("Anonymous")
        res["phases"], res["problems"], res["notes"] = run_soak(s, total, conns, client_pin, max_id)
        res["hwm"] = hwm_bytes(s.proc.pid) if s.proc.poll() is None else None
    except engine.Unavailable as e:
        res["error"] = str(e)
    finally:
        s.stop()
    return res


def growth(res):
    """(RSS at the last checkpoint − RSS at the first, requests at the last) or (None, None)."""
    ph = res["phases"]
    if len(ph) < 2 or ph[0]["rss"] is None or ph[-1]["rss"] is None:
        return None, None
    return ph[-1]["rss"] - ph[0]["rss"], ph[-1]["requests"]


def fmt_kb(b):
    return "—" if b is None else "{:,.0f} KB".format(b / KB)


def fmt_signed_kb(b):
    return "—" if b is None else "{:+,.0f} KB".format(b / KB)


def report_lines(res):
    """The soak's table and notes, as markdown lines."""
    lines = ["| after | Rss | since 10k | of which anonymous | phase req/s | connections opened |",
             "|---|---|---|---|---|---|"]
    if "rss_ready" in res:
        lines.append("| ready (before seeding) | %s | — | %s | — | — |"
                     % (fmt_kb(res["rss_ready"]), fmt_kb(res.get("anon_ready"))))
    if "rss_seeded" in res:
        lines.append("| %s items seeded | %s | — | %s | — | — |" % (
            "{:,}".format(SEED_ITEMS), fmt_kb(res["rss_seeded"]), fmt_kb(res.get("anon_seeded"))))
    first = res["phases"][0]["rss"] if res["phases"] else None
    for p in res["phases"]:
        lines.append("| %s requests | %s | %s | %s | %s | %s |" % (
            "{:,}".format(p["requests"]), fmt_kb(p["rss"]),
            fmt_signed_kb(p["rss"] - first) if p["rss"] is not None and first is not None
            else "—", fmt_kb(p["anon"]), engine.fmt_rps(p["rps"]),
            "{:,}".format(p["connects"])))
    if res.get("error"):
        lines.append("| not run: %s | — | — | — | — | — |" % res["error"])
    if res["phases"]:
        statuses, kinds = {}, {}
        for p in res["phases"]:
            for k, v in p["stats"]["statuses"].items():
                statuses[k] = statuses.get(k, 0) + v
            for k, v in p["stats"]["kinds"].items():
                kinds[k] = kinds.get(k, 0) + v
        total = sum(kinds.values())
        lines += ["", "Answers: " + ", ".join("%s × %s" % (k, "{:,}".format(v))
                                             for k, v in sorted(statuses.items())) + ".",
                  "Mix: " + ", ".join("%s %.1f %%" % (k, 100 * v / total)
                                      for k, v in kinds.items()) + "."]
    if res.get("hwm"):
        lines.append("Peak RSS of the soaked process (VmHWM): %s." % fmt_kb(res["hwm"]))
    return lines


def goal_ok(res):
    g, _ = growth(res)
    return None if g is None else g <= GOAL_GROWTH


def answers_ok(res):
    if not res["phases"]:
        return None
    return not any(p["stats"]["lost"] or p["stats"]["unexpected"] for p in res["phases"]) \
        and not res["problems"]


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--crest", default="build/crest", help="crest binary (default build/crest)")
    ap.add_argument("--requests", type=int, default=1_000_000, help="mixed requests in all")
    ap.add_argument("--conns", type=int, default=100, help="client connections")
    ap.add_argument("--out", help="also write the report to this file")
    args = ap.parse_args()
    if args.requests <= CHECKPOINTS[0] or args.conns < 1:
        ap.error("--requests must exceed %d and --conns be positive" % CHECKPOINTS[0])
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)
    server_pin, client_pin = [], []
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        server_pin, client_pin = ["taskset", "-c", "0"], ["taskset", "-c", "1"]
    crest_bin = os.path.abspath(args.crest)
    t0 = time.monotonic()
    res = soak_crest(crest_bin, args.requests, args.conns, server_pin, client_pin)
    g, n = growth(res)
    ok = goal_ok(res)
    lines = ["# crest soak: %s mixed requests" % "{:,}".format(args.requests), "",
             "- date: %s; %s" % (datetime.datetime.now().astimezone().strftime(
                 "%Y-%m-%d %H:%M:%S %z"), engine.first_line([crest_bin, "--version"])),
             "- crest 1 worker on CPU 0, soak_client (%d connections) on CPU 1; Rss from "
             "smaps_rollup 1 s after each phase; KB = 10^3 bytes; took %.0f s"
             % (args.conns, time.monotonic() - t0), ""]
    lines += report_lines(res)
    lines += ["", "Goal: RSS growth from 10k to 1M mixed requests ≤ 256 KB: %s from 10k to %s: %s"
              % (fmt_signed_kb(g), "{:,}".format(n) if n else "—",
                 "n/a" if ok is None else engine.verdict(ok))]
    a = answers_ok(res)
    lines.append("Every answer as expected: %s" % ("n/a" if a is None else engine.verdict(a)))
    if res["problems"] or res["notes"]:
        lines += ["", "Notes:"] + ["- " + p for p in res["problems"] + res["notes"]]
    report = "\n".join(lines) + "\n"
    print(report, end="")
    if args.out:
        if os.path.dirname(args.out):
            os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(report)
        log("written to %s" % args.out)


if __name__ == "__main__":
    main()
