#!/usr/bin/python3
"""bench/items.py: crest's items service on SQLite against its goals (shared/ANCHORS.md).

Measures crest serving the items API from a fresh SQLite file in a temporary directory, pinned to
CPU 0 with the load on CPU 1: RSS at ready with the store open (2 workers, the goal's figure, and
1 worker); GET /items/{id} and POST /items requests/s with wrk -t1 -c100 (keep-alive) after
seeding 1,000 items; and the soak of bench/soak.py: RSS after 10k, 100k and 1M mixed requests.
FastAPI + uvicorn (bench/peers/items_fastapi.py, 1 worker), when installed, is measured the same
way (ready, GET, POST) for comparison.

A benchmark, not a test: it exits 0 once it has measured, whatever the goals say. Servers run as
its children on free 127.0.0.1 ports, are stopped by pid (SIGTERM, then SIGKILL) and their
temporary directories removed, also when interrupted.

Run: /usr/bin/python3 bench/items.py --crest build/crest [--seconds 10]
     [--soak-requests 1000000] [--servers crest,fastapi] [--out bench/results/items.md]
"""

import argparse
import datetime
import os
import platform
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.dont_write_bytecode = True  # no bench/__pycache__ from importing the modules below
sys.path.insert(0, BENCH_DIR)
import engine  # noqa: E402  (servers as children, smaps, wrk's output, report helpers)
import lib  # noqa: E402  (wrk parsing, pinning, CPU model)
import soak  # noqa: E402  (crest's argv, seeding, the soak itself)

MB, KB = engine.MB, soak.KB
PYTHON = "/usr/bin/python3"
FASTAPI_APP = os.path.join(BENCH_DIR, "peers", "items_fastapi.py")
GET_LUA = os.path.join(BENCH_DIR, "items_get.lua")
POST_LUA = os.path.join(BENCH_DIR, "items_post.lua")
SQLITE_C = os.path.join(REPO_DIR, "src", "db", "sqlite.c")

# Goals: shared/ANCHORS.md, and the POST figure set with this benchmark.
GOAL_RSS_2_WORKERS = 2.5 * MB
GOAL_GET_RPS = 60_000
GOAL_POST_RPS = 10_000
GOAL_GROWTH = soak.GOAL_GROWTH

ALL_SERVERS = ("crest", "fastapi")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build_fastapi(tmp, port):
    check = subprocess.run([PYTHON, "-c", "import fastapi, uvicorn"], capture_output=True)
    if check.returncode != 0:
        raise engine.Unavailable("FastAPI not installed (sh tools/ensure-packages.sh "
                                 "python3-fastapi python3-uvicorn)")
    return [PYTHON, FASTAPI_APP, "--host", "127.0.0.1", "--port", str(port), "--db",
            os.path.join(tmp, "items.db")]


def run_wrk(server, script, script_args, seconds, conns):
    """wrk -t1 -cN -dS --latency -s script; returns {rps, p50, p99, warn?, noisy?} or {error}."""
    argv = WRK_PIN + ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency", "-s", script,
                      "http://127.0.0.1:%d" % server.port]
    if script_args:
        argv += ["--"] + script_args
    before = soak.snapshot(server)
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        return {"error": "wrk did not stop"}
    cpu = soak.server_cpu(server, before)
    noisy = soak.others_note(server, before, "%s, %s" % (server.key, os.path.basename(script)))
    res = lib.parse_wrk(out)
    if "rps" in res:
        res["cpu"] = cpu
        if noisy:
            res["noisy"] = noisy
    return res


def measure_ready(s):
    s.wait_ready()
    time.sleep(1)
    s.r["rss_ready"] = s.smaps_bytes("Rss")
    s.r["pss_ready"] = s.smaps_bytes("Pss")


def measure_load(s, args, notes):
    """Seeds 1,000 items, then GET /items/{id} and POST /items under wrk; RSS after."""
    last = soak.seed(s.port)
    if last != soak.SEED_ITEMS:
        notes.append("%s: the last seeded item got id %s, not %d: GET spreads over ids 1..%d "
                     "regardless" % (s.key, last, soak.SEED_ITEMS, soak.SEED_ITEMS))
    for kind, script, sargs in (("get", GET_LUA, [str(soak.SEED_ITEMS)]),
                                ("post", POST_LUA, [])):
        log("%s: %s for %d s" % (s.key, kind.upper(), args.seconds))
        res = run_wrk(s, script, sargs, args.seconds, args.conns)
        s.r[kind] = res
        for key in ("noisy", "warn", "error"):
            if key in res:
                notes.append(res[key] if key == "noisy" else
                             "%s, %s: %s" % (s.key, kind.upper(), res[key]))
        if s.proc.poll() is not None:
            raise engine.Unavailable("exited with %d during %s load" % (s.proc.returncode,
                                                                       kind.upper()))
        time.sleep(0.5)
    s.r["rss_after"] = s.smaps_bytes("Rss")


# ---------------------------------------------------------------------------------------------
# Context for the header: how the store commits and what an fsync costs here.


def store_settings():
    """journal_mode and synchronous as src/db/sqlite.c sets them (None when not found)."""
    try:
        with open(SQLITE_C) as f:
            text = f.read()
    except OSError:
        return None, None
    sync = re.search(r"PRAGMA synchronous\s*=\s*(\w+)", text, re.I)
    journal = re.search(r"PRAGMA journal_mode\s*=\s*(\w+)", text, re.I)
    return (journal.group(1).upper() if journal else None, sync.group(1).upper() if sync else None)


def mount_of(path):
    """(fstype, device) of the file system holding path."""
    best = ("", "?", "?")
    path = os.path.realpath(path)
    try:
        with open("/proc/mounts") as f:
            for line in f:
                dev, mnt, fstype = line.split()[:3]
                if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and \
                        len(mnt) >= len(best[0]):
                    best = (mnt, fstype, dev)
    except OSError:
        pass
    return best[1], best[2]


def fdatasync_rate(seconds=1.0):
    """4 KiB appends + fdatasync per second in a fresh temporary directory: the ceiling of one
    synchronous commit per write when every commit syncs the WAL."""
    tmp = tempfile.mkdtemp(prefix="crest-bench-fsync-")
    try:
        fd = os.open(os.path.join(tmp, "f"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            n, block, t0 = 0, b"x" * 4096, time.monotonic()
            while time.monotonic() - t0 < seconds:
                os.write(fd, block)
                os.fdatasync(fd)
                n += 1
            return n / (time.monotonic() - t0)
        finally:
            os.close(fd)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def is_static(path):
    """True when the ELF file at path has no PT_INTERP (no dynamic loader), None if unreadable."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit ELF only
                return None
            phoff, = struct.unpack_from("<Q", head, 32)
            phentsize, phnum = struct.unpack_from("<HH", head, 54)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except (OSError, struct.error):
        return None
    return all(struct.unpack_from("<I", table, i * phentsize)[0] != 3 for i in range(phnum))


def machine_header(args, crest_bin, busy_pct, fsync_rate):
    cpu = lib.cpu_model()
    sqlite = engine.first_line(["pkg-config", "--modversion", "sqlite3"])
    journal, sync = store_settings()
    fstype, dev = mount_of(tempfile.gettempdir())
    wrk = " ".join(engine.first_line(["wrk", "-v"]).split()[:2])
    pin = ("servers on CPU 0, load on CPU 1 (taskset)" if WRK_PIN
           else "no pinning (fewer than 2 CPUs)")
    crest = "not run"
    if crest_bin and os.access(crest_bin, os.X_OK):
        crest = "%s (%s)" % (engine.first_line([crest_bin, "--version"]),
                             os.path.relpath(crest_bin, REPO_DIR))
    return [
        "# crest items benchmark (SQLite store)",
        "",
        "- date: %s" % datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %z"),
        "- CPU: %s, %d cores; kernel %s" % (cpu, os.cpu_count() or 0, platform.release()),
        "- %s, %s SQLite %s (pkg-config); load: %s; %s"
        % (crest, {True: "statically linked with", False: "dynamically linked with"}.get(
            is_static(crest_bin) if crest_bin else None, "built with"), sqlite, wrk, pin),
        "- database: journal_mode=%s, synchronous=%s (src/db/sqlite.c), group commit: "
        "the writes queued while the writer thread's previous commit ran share one transaction, "
        "acknowledged after its COMMIT "
        "fsyncs the WAL; database in a fresh directory under %s "
        "(%s on %s), where one 4 KiB append + fdatasync takes %.0f µs (%s/s)"
        % (journal or "?", sync or "?", tempfile.gettempdir(), fstype, dev,
           1e6 / fsync_rate if fsync_rate else 0, engine.fmt_rps(fsync_rate)),
        "- load: wrk -t1 -c%d -d%ds --latency, keep-alive, one run each, after seeding %s items; "
        "GET spreads over ids 1..%s (bench/items_get.lua), POST sends a small valid body "
        "(bench/items_post.lua); server CPU: the share of one core the server's processes "
        "used during the run (under 100 %% it waits, as on an fsync)" % (args.conns, args.seconds, "{:,}".format(soak.SEED_ITEMS),
                                   "{:,}".format(soak.SEED_ITEMS)),
        "- RSS: Rss of /proc/PID/smaps_rollup summed over the process tree, 1 s after the first "
        "200 to GET /json (the SQLite database is open by then: its writer at setup, each worker's reader at start); "
        "MB = 10^6 bytes, KB = 10^3 bytes",
        "- CPU in use by other processes before the run: %.0f %% of the machine" % busy_pct,
        "",
    ]


# ---------------------------------------------------------------------------------------------
# Report.


def cell_rps(res):
    if not res:
        return "—"
    return engine.fmt_rps(res["rps"]) if "rps" in res else res.get("error", "—")


def fmt_pct(x):
    return "—" if x is None else "%.0f %%" % (100 * x)


def table(servers, crest2):
    rows = ["| server | RSS at ready | PSS at ready | GET /items/{id} req/s | p50 | p99 "
            "| POST /items req/s | p50 | p99 | server CPU, GET / POST | RSS after load |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in servers + ([crest2] if crest2 else []):
        r = s.r
        if "rss_ready" not in r:
            rows.append("| %s | not run: %s | — | — | — | — | — | — | — | — | — |"
                        % (s.label, s.error))
            continue
        get, post = r.get("get", {}), r.get("post", {})
        load = s is not crest2
        cpu = " / ".join(fmt_pct(x.get("cpu")) for x in (get, post)) if load else "—"
        rows.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            s.label + (" (not run further: %s)" % s.error if s.error else ""),
            engine.fmt_mb(r["rss_ready"]), engine.fmt_mb(r.get("pss_ready")),
            cell_rps(get) if load else "—", engine.fmt_ms(get.get("p50")),
            engine.fmt_ms(get.get("p99")), cell_rps(post) if load else "—",
            engine.fmt_ms(post.get("p50")), engine.fmt_ms(post.get("p99")), cpu,
            engine.fmt_mb(r.get("rss_after"))))
    return rows


def goals(by_key, crest2, soaked):
    def rps(key, kind):
        s = by_key.get(key)
        return s.r.get(kind, {}).get("rps") if s else None

    lines = ["| goal | measured | result |", "|---|---|---|"]

    def row(goal, measured, ok):
        lines.append("| %s | %s | %s |" % (goal, measured,
                                          "n/a" if ok is None else engine.verdict(ok)))

    rss2 = crest2.r.get("rss_ready") if crest2 else None
    row("RSS at ready, SQLite store open, 2 workers ≤ %.1f MB" % (GOAL_RSS_2_WORKERS / MB),
        engine.fmt_mb(rss2), None if rss2 is None else rss2 <= GOAL_RSS_2_WORKERS)
    for kind, goal, what in (("get", GOAL_GET_RPS, "GET /items/{id} from SQLite"),
                             ("post", GOAL_POST_RPS, "POST /items into SQLite")):
        got = rps("crest", kind)
        fa = rps("fastapi", kind)
        vs = " (FastAPI %s: %.0f×)" % (engine.fmt_rps(fa), got / fa) if got and fa else ""
        row("%s, 1 worker ≥ %s req/s" % (what, "{:,}".format(goal)),
            (engine.fmt_rps(got) + vs) if got else "—", None if got is None else got >= goal)
    if soaked is not None:
        g, n = soak.growth(soaked)
        row("RSS growth from 10k to 1M mixed requests ≤ %d KB" % (GOAL_GROWTH // KB),
            "%s (10k → %s)" % (soak.fmt_signed_kb(g), "{:,}".format(n)) if n else "—",
            soak.goal_ok(soaked))
        a = soak.answers_ok(soaked)
        row("soak: every answer as expected, no connection lost", "—" if a is None else
            ("yes" if a else "no: see the notes"), a)
    return lines


# ---------------------------------------------------------------------------------------------
# The run.


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--crest", default="build/crest", help="crest binary (default build/crest)")
    ap.add_argument("--servers", default=",".join(ALL_SERVERS),
                    help="comma list of crest,fastapi (default both; fastapi only if installed)")
    ap.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    ap.add_argument("--conns", type=int, default=100, help="wrk connections")
    ap.add_argument("--soak-requests", type=int, default=1_000_000,
                    help="mixed requests of the soak (0: no soak)")
    ap.add_argument("--soak-conns", type=int, default=100, help="soak client connections")
    ap.add_argument("--out", default=os.path.join("bench", "results", "items.md"))
    args = ap.parse_args()
    args.servers = [k.strip() for k in args.servers.split(",") if k.strip()]
    unknown = [k for k in args.servers if k not in ALL_SERVERS]
    if unknown or not args.servers:
        ap.error("--servers: unknown %s (choose from %s)" % (",".join(unknown),
                                                            ",".join(ALL_SERVERS)))
    if min(args.seconds, args.conns, args.soak_conns) < 1:
        ap.error("--seconds, --conns and --soak-conns must be positive")
    if args.soak_requests and args.soak_requests <= soak.CHECKPOINTS[0]:
        ap.error("--soak-requests must exceed %d (or be 0)" % soak.CHECKPOINTS[0])
    return args


SERVER_PIN = []
WRK_PIN = []


def main():
    global SERVER_PIN, WRK_PIN
    args = parse_args()
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, soak.on_signal)
    if not shutil.which("wrk"):
        sys.exit("items.py needs wrk: sh tools/ensure-packages.sh wrk python3-psutil")
    engine.raise_nofile(4 * max(args.conns, args.soak_conns) + 256)
    SERVER_PIN, WRK_PIN = lib.pinning()
    crest_bin = os.path.abspath(args.crest) if args.crest else None

    makers = {
        "crest": lambda: engine.Server("crest", "crest, 1 worker",
                                       soak.crest_items_argv(crest_bin, 1)),
        "fastapi": lambda: engine.Server("fastapi", "FastAPI 0.92 + uvicorn, 1 worker",
                                         build_fastapi),
    }
    servers = [makers[k]() for k in ALL_SERVERS if k in args.servers]
    by_key = {s.key: s for s in servers}
    crest2 = (engine.Server("crest2", "crest, 2 workers (RSS at ready only)",
                            soak.crest_items_argv(crest_bin, 2)) if "crest" in by_key else None)
    busy_pct = engine.psutil.cpu_percent(interval=1.0)
    fsync_rate = fdatasync_rate()
    notes = []
    soaked = None
    t0 = time.monotonic()
    try:
        if crest2 is not None:
            log("crest, 2 workers: RSS at ready")
            try:
                crest2.start(SERVER_PIN)
                measure_ready(crest2)
            except engine.Unavailable as e:
                crest2.error = str(e)
            finally:
                crest2.stop()
        for s in servers:
            log("%s: starting" % s.key)
            try:
                s.start(SERVER_PIN)
                measure_ready(s)
                measure_load(s, args, notes)
            except engine.Unavailable as e:
                s.error = str(e)
            finally:
                s.stop()
        if "crest" in by_key and args.soak_requests:
            log("crest: soak of %s mixed requests" % "{:,}".format(args.soak_requests))
            soaked = soak.soak_crest(crest_bin, args.soak_requests, args.soak_conns, SERVER_PIN,
                                     WRK_PIN)
    finally:
        for s in servers + ([crest2] if crest2 else []):
            s.stop()

    lines = machine_header(args, crest_bin, busy_pct, fsync_rate) + table(servers, crest2)
    if soaked is not None:
        lines += ["", "## Soak: %s mixed requests, crest 1 worker (bench/soak.py)" %
                  "{:,}".format(args.soak_requests), "",
                  "A fresh database seeded with %s items; soak_client (%d connections, CPU 1) "
                  "runs the phases; Rss from smaps_rollup 1 s after each, once the client has "
                  "closed its connections. Anonymous memory is the heap (SQLite's page cache, "
                  "capped by cache_size, and crest's buffers); the rest of Rss is mostly code: "
                  "crest's and SQLite's pages." % ("{:,}".format(soak.SEED_ITEMS),
                                                                 args.soak_conns),
                  ""]
        lines += soak.report_lines(soaked)
        if soaked.get("error"):
            notes.append("soak: %s" % soaked["error"])
        notes += ["soak, " + p for p in soaked["problems"] + soaked["notes"]]
    if "crest" in by_key:
        lines += ["", "## crest against its goals", ""] + goals(by_key, crest2, soaked)
    if notes:
        lines += ["", "Notes:"] + ["- " + n for n in notes]
    lines += ["", "Run time: %.0f s." % (time.monotonic() - t0)]
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
