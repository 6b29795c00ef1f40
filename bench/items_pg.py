#!/usr/bin/python3
"""bench/items_pg.py: crest's items service on PostgreSQL against issue 9's figures.

A PostgreSQL 15 cluster of its own (Debian's binaries, initialised in a temporary directory by
tests/e2e/pg.py, the tests' fixture: password auth on 127.0.0.1, a free port) is seeded with
1,000 items through crest; then, each alone on the machine:

- RSS at ready with the PostgreSQL store: crest with 2 workers and their pools open (/healthz
  answers 200), Rss of smaps_rollup 1 s later; goal ≤ 3 MB, libpq included;
- GET /items/{id} requests/s, wrk -t1 -c100 over ids 1..1000 (bench/items_get.lua), with
  1 crest worker in libpq's pipeline mode (the default), then with --db-pipeline off, then
  FastAPI 0.92 + uvicorn + asyncpg (bench/peers/items_fastapi_asyncpg.py, 1 process, a pool of
  10) on the same database. Goals: crest ≥ 10 × FastAPI + asyncpg and ≥ 25,000 req/s.

The server under test runs on CPU 0; wrk and PostgreSQL (the postmaster and every backend, which
inherit its affinity) on CPU 1 (--pg-cpu any leaves PostgreSQL unpinned). Each wrk run follows a
2 s warm-up run (statements prepared, caches filled) that is not counted.

A benchmark, not a test: it exits 0 once it has measured, whatever the goals say. Every server is
our child on a free 127.0.0.1 port, stopped by pid; the cluster is stopped with pg_ctl stop and
its directory removed, also when interrupted.

Run: /usr/bin/python3 bench/items_pg.py --crest build/crest [--seconds 10] [--conns 100]
     [--out bench/results/items_pg.md]
"""

import argparse
import datetime
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.dont_write_bytecode = True
sys.path.insert(0, BENCH_DIR)
sys.path.insert(1, os.path.join(REPO_DIR, "tests", "e2e"))
import lib  # noqa: E402  (servers as children, smaps, wrk's output, pinning, formatting)

try:
    import pg  # noqa: E402  (tests/e2e/pg.py: a PostgreSQL cluster of our own; needs pytest)
except ImportError as e:
    sys.exit("items_pg.py uses tests/e2e/pg.py, which needs %s: sh tools/ensure-packages.sh "
             "python3-pytest postgresql" % e.name)

MB = lib.MB
PYTHON = "/usr/bin/python3"
PEER = os.path.join(BENCH_DIR, "peers", "items_fastapi_asyncpg.py")
GET_LUA = os.path.join(BENCH_DIR, "items_get.lua")
SEED_ITEMS = 1000
PEER_POOL = 10
WARMUP_S = 2

GOAL_RSS = 3 * MB
GOAL_RPS = 25_000
GOAL_RATIO = 10


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Servers.


def crest_server(key, label, binary, workers, url, *extra):
    def build(tmp, port):
        if not binary or not os.access(binary, os.X_OK):
            raise lib.Unavailable("%s not found (make build)" % (binary or "crest binary"))
        return [binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers",
                str(workers), "--quiet", *extra]
    # the URL goes through DATABASE_URL, so the password is not on a command line
    return lib.Server(key, label, build, env={"DATABASE_URL": url})


def peer_server(url):
    def build(tmp, port):
        check = subprocess.run([PYTHON, "-c", "import fastapi, uvicorn, asyncpg"],
                               capture_output=True)
        if check.returncode != 0:
            raise lib.Unavailable("FastAPI/asyncpg not installed (sh tools/ensure-packages.sh "
                                  "python3-fastapi python3-uvicorn python3-asyncpg)")
        return [PYTHON, PEER, "--host", "127.0.0.1", "--port", str(port), "--pool",
                str(PEER_POOL)]
    return lib.Server("fastapi", "FastAPI 0.92 + uvicorn + asyncpg %s, 1 process, pool of %d"
                      % (asyncpg_version(), PEER_POOL), build, env={"DATABASE_URL": url},
                      ready_timeout_s=60)


def asyncpg_version():
    out = subprocess.run([PYTHON, "-c", "import asyncpg; print(asyncpg.__version__)"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "?"


def wait_healthy(s, timeout_s=15):
    """Until /healthz answers 200: for crest, every worker's pool connected."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % s.port, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError as e:
            last = e
        time.sleep(0.05)
    raise lib.Unavailable("/healthz not 200 within %d s (%s): %s" % (timeout_s, last,
                                                                     s.log_tail()))


def seed(port, n=SEED_ITEMS):
    """POSTs n items over one keep-alive connection; returns the last id."""
    last = None
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for i in range(1, n + 1):
            body = b'{"name":"item %d","price":%d.5,"tags":["seed"]}' % (i, i)
            sock.sendall(b"POST /items HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                         b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            status, _, answer = lib.read_response(sock)
            if status != 201:
                raise lib.Unavailable("seeding: POST /items answered %d: %r" % (status,
                                                                               answer[:80]))
            last = int(answer.split(b'"id":', 1)[1].split(b",", 1)[0])
    return last


# ---------------------------------------------------------------------------------------------
# Measures.


def tree_cpu(pid):
    """CPU seconds of pid and its descendants (PostgreSQL's backends), 0 if gone."""
    try:
        procs = [lib.psutil.Process(pid)]
        procs += procs[0].children(recursive=True)
    except lib.psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except lib.psutil.Error:
            pass
    return total


def run_wrk(s, seconds, conns, wrk_pin, pg_pid):
    argv = wrk_pin + ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency", "-s",
                      GET_LUA, "http://127.0.0.1:%d" % s.port, "--", str(SEED_ITEMS)]
    before, pg_before = lib.cpu_snapshot(s), tree_cpu(pg_pid)
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        return {"error": "wrk did not stop"}
    after, pg_after = lib.cpu_snapshot(s), tree_cpu(pg_pid)
    res = lib.parse_wrk(out)
    wall = after[0] - before[0]
    if "rps" in res and wall > 0:
        res["cpu"] = (after[2] - before[2]) / wall
        res["pg_cpu"] = (pg_after - pg_before) / wall
    return res


def measure_get(s, args, wrk_pin, pg_pid, notes):
    s.start(SERVER_PIN)
    try:
        s.wait_ready()
        wait_healthy(s)
        for item_id in (1, SEED_ITEMS):  # the ids wrk asks for are there
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/items/%d" % (s.port, item_id),
                                            timeout=5) as r:
                    status = r.status
            except OSError as e:
                status = getattr(e, "code", e)
            if status != 200:
                raise lib.Unavailable("GET /items/%d answers %s" % (item_id, status))
        log("%s: warm-up %d s, then GET for %d s" % (s.key, WARMUP_S, args.seconds))
        run_wrk(s, WARMUP_S, args.conns, wrk_pin, pg_pid)
        res = run_wrk(s, args.seconds, args.conns, wrk_pin, pg_pid)
        if "warn" in res:
            notes.append("%s: %s" % (s.label, res["warn"]))
            if "Non-2xx" in res["warn"]:  # a rate of errors is no figure
                res = {"error": "wrk saw non-2xx answers (see the notes)"}
        if s.proc.poll() is not None:
            raise lib.Unavailable("exited with %d under load" % s.proc.returncode)
        s.r["get"] = res
        s.r["rss_after"] = s.smaps_bytes("Rss")
    finally:
        s.stop()


def measure_ready(s):
    s.start(SERVER_PIN)
    try:
        s.wait_ready()
        wait_healthy(s)
        time.sleep(1)
        s.r["rss_ready"] = s.smaps_bytes("Rss")
        s.r["pss_ready"] = s.smaps_bytes("Pss")
    finally:
        s.stop()


# ---------------------------------------------------------------------------------------------
# Report.


def shown_path(path):
    """Relative to the repository when inside it, else absolute."""
    rel = os.path.relpath(path, REPO_DIR)
    return path if rel.startswith("..") else rel


def pct(x):
    return "—" if x is None else "%.0f %%" % (100 * x)


def report(args, crest_bin, cluster, busy, ready, runs, notes, seconds_taken):
    wrk = " ".join(lib.first_line(["wrk", "-v"]).split()[:2])
    server_pin = "CPU 0" if SERVER_PIN else "unpinned"
    load_pin = "CPU 1" if WRK_PIN else "unpinned"
    pg_pin = load_pin if args.pg_cpu == "1" and WRK_PIN else "unpinned"
    pg_version = lib.first_line([os.path.join(cluster.bindir, "postgres"), "--version"])
    lines = [
        "# crest items benchmark (PostgreSQL store)",
        "",
        "- date: %s" % datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %z"),
        "- CPU: %s, %d cores; kernel %s" % (lib.cpu_model(), os.cpu_count() or 0,
                                            platform.release()),
        "- %s (%s); %s, a cluster of its own (tests/e2e/pg.py: fsync on, scram-sha-256 over "
        "127.0.0.1, shared_buffers 32MB); load: %s" % (
            lib.first_line([crest_bin, "--version"]), shown_path(crest_bin),
            pg_version, wrk),
        "- pinning: the server under test on %s; wrk on %s; PostgreSQL (postmaster and "
        "backends) on %s" % (server_pin, load_pin, pg_pin),
        "- load: wrk -t1 -c%d -d%ds --latency, keep-alive, GET /items/{id} over ids 1..%d "
        "(bench/items_get.lua), after a %d s warm-up run; %s items seeded through crest"
        % (args.conns, args.seconds, SEED_ITEMS, WARMUP_S, "{:,}".format(SEED_ITEMS)),
        "- crest: --db-pool 2 (default) connections per worker; server CPU and PostgreSQL CPU: "
        "share of one core used by each during the run",
        "- RSS: Rss of /proc/PID/smaps_rollup, 1 s after /healthz first answers 200 (every "
        "worker's pool connected); MB = 10^6 bytes",
        "- CPU in use by other processes before the runs: %.0f %% of the machine" % busy,
        "",
        "| server | GET /items/{id} req/s | p50 | p99 | server CPU | PostgreSQL CPU "
        "| RSS after load |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in runs:
        g = s.r.get("get")
        if not g or "rps" not in g:
            why = s.error or (g or {}).get("error", "not run")
            lines.append("| %s | not run: %s | — | — | — | — | — |" % (s.label, why))
            continue
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            s.label, lib.fmt_rps(g["rps"]), lib.fmt_ms(g.get("p50")), lib.fmt_ms(g.get("p99")),
            pct(g.get("cpu")), pct(g.get("pg_cpu")), lib.fmt_mb(s.r.get("rss_after"))))
    lines += ["", "| RSS at ready | Rss | Pss |", "|---|---|---|",
              "| %s | %s | %s |" % (ready.label, lib.fmt_mb(ready.r.get("rss_ready"))
                                    if "rss_ready" in ready.r else "not run: %s" % ready.error,
                                    lib.fmt_mb(ready.r.get("pss_ready")))]

    def rps(key):
        for s in runs:
            if s.key == key:
                return s.r.get("get", {}).get("rps")
        return None

    on, off, fa = rps("crest"), rps("crest-nopipe"), rps("fastapi")
    rss = ready.r.get("rss_ready")
    lines += ["", "## crest against the issue's goals", "", "| goal | measured | result |",
              "|---|---|---|",
              "| GET /items/{id} through PostgreSQL, 1 worker, pipeline mode ≥ %s req/s | %s | %s |"
              % ("{:,}".format(GOAL_RPS), lib.fmt_rps(on), verdict(None if on is None
                                                                   else on >= GOAL_RPS)),
              "| the same ≥ %d × FastAPI + asyncpg | %s | %s |" % (
                  GOAL_RATIO, "%.1f × (%s against %s)" % (on / fa, lib.fmt_rps(on),
                                                           lib.fmt_rps(fa)) if on and fa else "—",
                  verdict(None if not (on and fa) else on >= GOAL_RATIO * fa)),
              "| RSS at ready, PostgreSQL store, 2 workers, pools open ≤ %.0f MB | %s | %s |"
              % (GOAL_RSS / MB, lib.fmt_mb(rss), verdict(None if rss is None else rss <= GOAL_RSS))]
    if on and off:
        lines += ["", "Pipeline mode: %s req/s with it, %s without (%.2f ×)." % (
            lib.fmt_rps(on), lib.fmt_rps(off), on / off)]
    if notes:
        lines += ["", "Notes:"] + ["- " + n for n in notes]
    lines += ["", "Run time: %.0f s." % seconds_taken]
    return "\n".join(lines) + "\n"


def verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "**not met**")


# ---------------------------------------------------------------------------------------------
# The run.

SERVER_PIN, WRK_PIN = [], []


def pin_postgres(cluster, cpu):
    """The postmaster and its current children on `cpu`; backends forked later inherit it."""
    pid = cluster.postmaster_pid()
    try:
        procs = [lib.psutil.Process(pid)]
        procs += procs[0].children(recursive=True)
    except lib.psutil.Error:
        return
    for p in procs:
        try:
            p.cpu_affinity([cpu])
        except lib.psutil.Error:
            pass


def on_signal(signum, frame):
    raise KeyboardInterrupt  # unwinds through the finally blocks that stop everything


def main():
    global SERVER_PIN, WRK_PIN
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--crest", default="build/crest", help="crest binary (default build/crest)")
    ap.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    ap.add_argument("--conns", type=int, default=100, help="wrk connections")
    ap.add_argument("--pg-cpu", choices=("1", "any"), default="1",
                    help="PostgreSQL on CPU 1 with wrk (default) or unpinned")
    ap.add_argument("--out", default=os.path.join("bench", "results", "items_pg.md"))
    args = ap.parse_args()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    if not shutil.which("wrk"):
        sys.exit("items_pg.py needs wrk: sh tools/ensure-packages.sh wrk python3-psutil")
    lib.raise_nofile(4 * args.conns + 256)
    SERVER_PIN, WRK_PIN = lib.pinning()
    crest_bin = os.path.abspath(args.crest)
    bindir, reason = pg.find_bindir()
    if reason:
        sys.exit("items_pg.py: " + reason)

    t0 = time.monotonic()
    cluster = pg.Postgres(bindir)
    notes = []
    try:
        log("PostgreSQL: initdb and start on port %d" % cluster.port)
        cluster.init()
        cluster.start()
        if WRK_PIN and args.pg_cpu == "1":
            pin_postgres(cluster, 1)
        url = cluster.url(cluster.create_database("bench"))
        pg_pid = cluster.postmaster_pid()

        seeder = crest_server("seed", "crest (seeding)", crest_bin, 1, url)
        seeder.start(SERVER_PIN)
        try:
            seeder.wait_ready()
            wait_healthy(seeder)
            last = seed(seeder.port)
            if last != SEED_ITEMS:
                notes.append("the last seeded item got id %s, not %d" % (last, SEED_ITEMS))
        finally:
            seeder.stop()
        cluster.sql("VACUUM ANALYZE", db=url.rsplit("/", 1)[1])

        busy = lib.psutil.cpu_percent(interval=1.0)
        ready = crest_server("crest2", "crest, 2 workers (PostgreSQL store, pools of 2)",
                             crest_bin, 2, url)
        log("crest, 2 workers: RSS at ready")
        try:
            measure_ready(ready)
        except lib.Unavailable as e:
            ready.error = str(e)
        runs = [crest_server("crest", "crest, 1 worker, pipeline mode", crest_bin, 1, url),
                crest_server("crest-nopipe", "crest, 1 worker, --db-pipeline off", crest_bin, 1,
                             url, "--db-pipeline", "off"),
                peer_server(url)]
        for s in runs:
            try:
                measure_get(s, args, WRK_PIN, pg_pid, notes)
            except lib.Unavailable as e:
                s.error = str(e)
    finally:
        cluster.destroy()

    text = report(args, crest_bin, cluster, busy, ready, runs, notes, time.monotonic() - t0)
    print(text, end="")
    if os.path.dirname(args.out):
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    log("written to %s" % args.out)


if __name__ == "__main__":
    main()
