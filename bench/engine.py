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
import os
import platform
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no bench/__pycache__ from importing lib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import (BENCH_DIR, MB, REPO_DIR, Server, Unavailable, cpu_model,  # noqa: E402
                 first_line, fmt_mb, fmt_ms, fmt_rps, idle_conn_bytes, log, make_build_h2o,
                 make_build_nginx, pinning, psutil, raise_nofile, wrk_json)
# soak.py reaches these through engine.
from lib import NOISY_CPU, cpu_snapshot, others_cpu, read_response  # noqa: E402,F401


# Goals from shared/ANCHORS.md, as set for the engine alone.
GOAL_PLAIN_RATIO = 0.95
GOAL_PIPELINED_RATIO = 0.5
GOAL_RSS_2_WORKERS = 1.5 * MB
GOAL_RSS_ITEMS_2_WORKERS = 2.5 * MB  # the items issue: the SQLite store open
GOAL_IDLE_BYTES = 128

ALL_SERVERS = ("crest", "ref", "nginx", "h2o")


def build_ref(tmp, port):
    return [REF_BIN, str(port)]


def make_build_crest(binary, workers):
    def build(tmp, port):
        if not binary or not os.access(binary, os.X_OK):
            raise Unavailable("%s not found (make build)" % (binary or "crest binary"))
        return [binary, "serve", "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(workers)]
    return build


def run_wrk(args, server, pipelined):
    return wrk_json(server, args.seconds, args.conns, WRK_PIN, pipelined)


def machine_header(args, crest_bin, busy_pct):
    cpu = cpu_model()
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
    SERVER_PIN, WRK_PIN = pinning()
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
