#!/usr/bin/python3
"""bench/tfb.py: examples/tfb (the TechEmpower test types on crest's database API) against issue
15's figures, side by side in one run with FastAPI + asyncpg and with pgbench.

A PostgreSQL 15 cluster of its own (tests/e2e/pg.py, as bench/items_pg.py: Debian's binaries, a
temporary directory, password auth on 127.0.0.1, fsync on) gets the TechEmpower tables from the
example's migration (World 10,000 rows, Fortune 12), then VACUUM ANALYZE. Then, each alone:

- crest, ONE worker (--workers 1, --pool P connections) and FastAPI + uvicorn + asyncpg (1
  process, bench/peers/tfb_fastapi_asyncpg.py, a pool of 10, TechEmpower's way: uvloop, httptools,
  ujson when installed) on the same database: GET /db, /queries?queries=20, /fortunes,
  /updates?queries=20 under wrk -t1 -cN --latency; goal crest ≥ 10 × the peer on each. Beside
  it, where each request's CPU went in crest's runs (crest, PostgreSQL, wrk: µs per request) and
  the ceiling that leaves any server on this machine: all its cores on PostgreSQL and wrk alone;
- pgbench -S -M prepared -c P -j 1 (select-only, prepared, as many connections as crest's pool)
  on pgbench's own tables (pgbench -i -s 1) in another database of the cluster: goal crest's
  /db ≥ 0.7 × pgbench's transactions/s (pgbench runs where crest runs, on the server's CPU);
- the same example on SQLite (a file in a temporary directory): /db and /fortunes;
- RSS at ready: VmRSS of /proc/PID/status, 2 workers, the database open (PostgreSQL: every
  worker's pool connected, /healthz 200 sixteen times in a row; SQLite), 1 s after; goal ≤ 2.5 MB;
- a held SQLite write lock: another process (python3's sqlite3) holds BEGIN IMMEDIATE on the tfb
  file while wrk measures GET /json on the same single worker, with /updates requests waiting on
  the lock meanwhile; p99 during the hold beside p99 without it (goal ≤ 5 ms); the waiting updates
  must complete once the lock is released.

The server under test runs on CPU 0; wrk and PostgreSQL on CPU 1 (2 CPUs or more; unpinned
otherwise). Each wrk run follows a 1 s warm-up run that is not counted.

A benchmark, not a test: it exits 0 once it has measured, whatever the goals say. Every server is
our child on a free 127.0.0.1 port, stopped by pid; the cluster is stopped with pg_ctl stop and its
directory removed, also when interrupted. About 2 minutes with the defaults.

Run: /usr/bin/python3 bench/tfb.py --tfb build/examples/tfb [--seconds 5] [--conns 64]
     [--pool 8] [--out bench/results/tfb.md]      (make bench-tfb)
"""

import argparse
import datetime
import http.client
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(BENCH_DIR)
sys.dont_write_bytecode = True
sys.path.insert(0, BENCH_DIR)
sys.path.insert(1, os.path.join(REPO_DIR, "tests", "e2e"))
import lib  # noqa: E402  (servers as children, wrk's output, pinning, formatting)
import items_pg  # noqa: E402  (pin_postgres, tree_cpu; it imports tests/e2e/pg.py)

pg = items_pg.pg
MB = lib.MB
PYTHON = "/usr/bin/python3"
PEER = os.path.join(BENCH_DIR, "peers", "tfb_fastapi_asyncpg.py")
PEER_POOL = 10
RSS_POOL = 2  # the example's default pool, for the RSS at ready
WARMUP_S = 1
HOLD_UPDATES = 4  # /updates requests sent while the lock is held

TESTS = [("db", "/db"), ("queries=20", "/queries?queries=20"), ("fortunes", "/fortunes"),
         ("updates=20", "/updates?queries=20")]
SQLITE_TESTS = TESTS[0:1] + TESTS[2:3]

GOAL_RATIO = 10
GOAL_PGBENCH = 0.7
GOAL_RSS = 2.5 * MB
GOAL_P99_MS = 5.0


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Servers.


def tfb_server(key, label, binary, workers, url, pool):
    def build(tmp, port):
        if not binary or not os.access(binary, os.X_OK):
            raise lib.Unavailable("%s not found (make build)" % (binary or "tfb binary"))
        return [binary, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                "--pool", str(pool)]
    # DATABASE_URL: the password stays off the command line
    return lib.Server(key, label, build, env={"DATABASE_URL": url})


def peer_server(url):
    def build(tmp, port):
        check = subprocess.run([PYTHON, "-c", "import fastapi, uvicorn, asyncpg, jinja2"],
                               capture_output=True)
        if check.returncode != 0:
            raise lib.Unavailable("FastAPI/asyncpg/Jinja2 not installed (make bench-tfb installs "
                                  "them)")
        return [PYTHON, PEER, "--host", "127.0.0.1", "--port", str(port), "--pool",
                str(PEER_POOL)]
    return lib.Server("fastapi", "FastAPI %s + uvicorn %s + asyncpg %s, 1 process, pool of %d"
                      % (py_versions() + (PEER_POOL,)), build, env={"DATABASE_URL": url},
                      ready_timeout_s=60)


def py_versions():
    out = subprocess.run([PYTHON, "-c", "import fastapi, uvicorn, asyncpg; print(fastapi."
                          "__version__, uvicorn.__version__, asyncpg.__version__)"],
                         capture_output=True, text=True)
    parts = out.stdout.split()
    return tuple(parts) if len(parts) == 3 else ("?", "?", "?")


def peer_extras():
    """Which of uvicorn's and FastAPI's fast paths are installed for the peer."""
    out = subprocess.run([PYTHON, "-c", "import importlib.util as u; print(' '.join(m for m in "
                          "('uvloop', 'httptools', 'ujson') if u.find_spec(m)))"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "none"


def wait_all_up(s, timeout_s=20, in_a_row=16):
    """/healthz 200 in_a_row times, each on a new connection: every worker's pool is up (a
    connection reaches either worker; see tests/e2e/pg.py wait_store_up)."""
    deadline = time.monotonic() + timeout_s
    ok = 0
    while ok < in_a_row:
        if time.monotonic() > deadline:
            raise lib.Unavailable("/healthz not 200 within %d s: %s" % (timeout_s, s.log_tail()))
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % s.port, timeout=2) as r:
                ok = ok + 1 if r.status == 200 else 0
        except OSError:
            ok = 0
            time.sleep(0.02)


def get_status(port, path, timeout_s=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def vm_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return None


# ---------------------------------------------------------------------------------------------
# Measures.


def run_wrk(s, path, seconds, conns, pg_pid=None):
    """wrk on s; {rps, p50, p99, warn?, noisy?} or {error}. noisy: the share of a CPU that
    processes other than the server, wrk and PostgreSQL used meanwhile, when over 10 %."""
    argv = WRK_PIN + ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--latency",
                      "http://127.0.0.1:%d%s" % (s.port, path)]
    pg_before = items_pg.tree_cpu(pg_pid) if pg_pid else 0.0
    before = lib.cpu_snapshot(s)
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        return {"error": "wrk did not stop"}
    after = lib.cpu_snapshot(s)
    res = lib.parse_wrk(out)
    wall = after[0] - before[0]
    pg_share = (items_pg.tree_cpu(pg_pid) - pg_before) / wall if pg_pid and wall > 0 else 0.0
    others = lib.others_cpu(s, before, after) - pg_share
    if "rps" in res and others > lib.NOISY_CPU:
        res["noisy"] = others
    if "rps" in res and wall > 0 and res["rps"] > 0:
        # CPU seconds per request of each party: where a request's cost goes (the ceiling)
        res["cpu_us"] = {"server": (after[2] - before[2]) / wall / res["rps"] * 1e6,
                         "wrk": (after[3] - before[3]) / wall / res["rps"] * 1e6,
                         "pg": pg_share / res["rps"] * 1e6 if pg_pid else None}
    return res


def measure_tests(s, tests, args, notes, pg_pid=None):
    s.start(SERVER_PIN)
    try:
        s.wait_ready()
        wait_all_up(s)
        for name, path in tests:
            status = get_status(s.port, path)
            if status != 200:
                s.r[name] = {"error": "GET %s answers %d" % (path, status)}
                continue
            log("%s: %s, warm-up %d s, then %d s" % (s.key, path, WARMUP_S, args.seconds))
            run_wrk(s, path, WARMUP_S, args.conns)
            res = run_wrk(s, path, args.seconds, args.conns, pg_pid)
            if "warn" in res:
                notes.append("%s, %s: %s" % (s.label, path, res["warn"]))
                if "Non-2xx" in res["warn"]:
                    res = {"error": "wrk saw non-2xx answers (see the notes)"}
            s.r[name] = res
            if s.proc.poll() is not None:
                raise lib.Unavailable("exited with %d under load" % s.proc.returncode)
    finally:
        s.stop()


TPS = re.compile(r"^tps = ([\d.]+) \(without initial connection time\)", re.M)


def measure_pgbench(cluster, args):
    """pgbench -S -M prepared: {tps} or {error}. pgbench's tables in a database of their own."""
    db = cluster.create_database("pgbench")
    env = pg._clean_env()
    env["PGPASSWORD"] = pg.PASSWORD
    conn = ["-h", "127.0.0.1", "-p", str(cluster.port), "-U", pg.USER]
    exe = os.path.join(cluster.bindir, "pgbench")
    init = subprocess.run([exe, "-i", "-s", "1", "-q", *conn, db], env=env, capture_output=True,
                          text=True, timeout=120)
    if init.returncode != 0:
        return {"error": "pgbench -i: " + init.stderr.strip()[-120:]}
    res = {}
    for seconds in (WARMUP_S, args.seconds):
        out = subprocess.run(SERVER_PIN + [exe, "-S", "-M", "prepared", "-c", str(args.pool),
                                           "-j", "1", "-T", str(seconds), "-n", *conn, db],
                             env=env, capture_output=True, text=True, timeout=seconds + 60)
        m = TPS.search(out.stdout)
        res = {"tps": float(m.group(1))} if m else {
            "error": "pgbench: " + (out.stderr or out.stdout).strip()[-120:]}
    return res


def measure_rss(s):
    s.start(SERVER_PIN)
    try:
        s.wait_ready()
        wait_all_up(s)
        time.sleep(1)
        s.r["vmrss"] = vm_rss(s.proc.pid)
    finally:
        s.stop()


HOLDER = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
con.execute("BEGIN IMMEDIATE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
con.execute("ROLLBACK")
"""


def measure_held_lock(s, path, args, notes):
    """p99 of GET /json without, then with, another process holding the write lock."""
    hold_s = 3  # wrk's run; the lock is held 0.5 s longer, well under the 5 s write timeout
    s.start(SERVER_PIN)
    try:
        s.wait_ready()
        run_wrk(s, "/json", WARMUP_S, args.conns)
        s.r["free"] = run_wrk(s, "/json", hold_s, args.conns)
        holder = subprocess.Popen([PYTHON, "-c", HOLDER, path, str(hold_s + 0.5)],
                                  stdout=subprocess.PIPE, text=True)
        answers = []
        try:
            if holder.stdout.readline().strip() != "held":
                raise lib.Unavailable("the lock holder did not start")
            t_held = time.monotonic()

            def update():
                t0 = time.monotonic()
                status = get_status(s.port, "/updates?queries=5")
                answers.append((status, time.monotonic() - t0, time.monotonic() - t_held))

            waiting = [threading.Thread(target=update) for _ in range(HOLD_UPDATES)]
            for t in waiting:
                t.start()
            time.sleep(0.1)  # the updates are queued on the writer before wrk starts
            s.r["held"] = run_wrk(s, "/json", hold_s, args.conns)
            s.r["held_updates_pending"] = sum(1 for t in waiting if t.is_alive())
            for t in waiting:
                t.join(30)
        finally:
            try:
                holder.wait(hold_s + 10)
            except subprocess.TimeoutExpired:
                holder.kill()
                holder.wait()
        s.r["held_updates"] = answers
        s.r["hold_s"] = hold_s + 0.5
    finally:
        s.stop()


# ---------------------------------------------------------------------------------------------
# Report.


def verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "**not met**")


def rps_of(s, name):
    return (s.r.get(name) or {}).get("rps") if s else None


def cell(s, name):
    res = s.r.get(name) if s else None
    if not res:
        return "not run: %s" % ((s.error if s else None) or "—")
    if "rps" not in res:
        return "not run: %s" % res.get("error")
    noisy = " ⚠" if "noisy" in res else ""
    return "%s (p99 %s)%s" % (lib.fmt_rps(res["rps"]), lib.fmt_ms(res.get("p99")), noisy)


def noise_notes(servers):
    """One note per measured run during which other processes took more than 10 % of a CPU."""
    out = []
    for s in servers:
        for name, res in sorted((s.r.items() if s else [])):
            if isinstance(res, dict) and "noisy" in res:
                out.append("⚠ %s, %s: other processes used %.0f %% of a CPU during the run"
                           % (s.label, name, 100 * res["noisy"]))
    return out


def report(args, cluster, crest, peer, sqlite, pgbench, rss, lock, notes, busy, seconds_taken):
    wrk = " ".join(lib.first_line(["wrk", "-v"]).split()[:2])
    pin = "the server under test on CPU 0; wrk and PostgreSQL on CPU 1" if SERVER_PIN else \
        "none (fewer than 2 CPUs)"
    lines = [
        "# examples/tfb: the TechEmpower test types (issue 15)",
        "",
        "- date: %s" % datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %z"),
        "- CPU: %s, %d cores; kernel %s" % (lib.cpu_model(), os.cpu_count() or 0,
                                            platform.release()),
        "- %s, a cluster of its own (tests/e2e/pg.py: fsync on, scram-sha-256 over 127.0.0.1, "
        "shared_buffers 32MB); tables from the example's migration, then VACUUM ANALYZE"
        % lib.first_line([os.path.join(cluster.bindir, "postgres"), "--version"]),
        "- load: %s -t1 -c%d -d%ds --latency, keep-alive, after a %d s warm-up run; pinning: %s"
        % (wrk, args.conns, args.seconds, WARMUP_S, pin),
        "- crest: %s --workers 1 --pool %d (pipeline mode); the peer's fast paths installed: %s"
        % (shown_path(args.tfb), args.pool, peer_extras()),
        "- CPU in use by other processes before the runs: %.0f %% of the machine" % busy,
        "- command: `%s`" % " ".join([PYTHON] + [shown_path(a) if os.path.exists(a) else a
                                              for a in sys.argv]),
        "",
        "## PostgreSQL: crest (1 worker) against FastAPI + asyncpg (1 process)",
        "",
        "| test | crest req/s | %s req/s | crest ÷ FastAPI | goal ≥ %d × |" % (
            "FastAPI" if not peer else peer.label, GOAL_RATIO),
        "|---|---|---|---|---|",
    ]
    for name, path in TESTS:
        c, f = rps_of(crest, name), rps_of(peer, name)
        lines.append("| %s | %s | %s | %s | %s |" % (
            path, cell(crest, name), cell(peer, name),
            "%.1f ×" % (c / f) if c and f else "—",
            verdict(None if not (c and f) else c >= GOAL_RATIO * f)))
    c, t = rps_of(crest, "db"), pgbench.get("tps")
    lines += [
        "",
        "## /db against pgbench -S -M prepared -c %d -j 1 (select-only transactions/s)" % args.pool,
        "",
        "| crest /db req/s | pgbench tps | crest ÷ pgbench | goal ≥ %.1f × |" % GOAL_PGBENCH,
        "|---|---|---|---|",
        "| %s | %s | %s | %s |" % (lib.fmt_rps(c), lib.fmt_rps(t) if t else "not run: %s" %
                                 pgbench.get("error"), "%.2f ×" % (c / t) if c and t else "—",
                                 verdict(None if not (c and t) else c >= GOAL_PGBENCH * t)),
    ]
    f = rps_of(peer, "db")
    if t and f:  # what no server can pass: PostgreSQL's own point-read rate, over the peer's
        lines += ["", "The ceiling of /db on this machine: pgbench's %s tps, with no HTTP at all, "
                  "is %.1f × the peer's /db (the goal asks %d ×)." % (lib.fmt_rps(t), t / f,
                                                                       GOAL_RATIO)]
    lines += ceiling_lines(crest, peer)
    lines += [
        "",
        "## SQLite beside PostgreSQL (crest, 1 worker)",
        "",
        "| test | SQLite req/s | PostgreSQL req/s |",
        "|---|---|---|",
    ]
    for name, path in SQLITE_TESTS:
        lines.append("| %s | %s | %s |" % (path, cell(sqlite, name), cell(crest, name)))
    lines += ["", "## RSS at ready, 2 workers, the database open (VmRSS)", "",
              "| database | VmRSS | goal ≤ %.1f MB |" % (GOAL_RSS / MB), "|---|---|---|"]
    for s in rss:
        v = s.r.get("vmrss")
        lines.append("| %s | %s | %s |" % (s.label, lib.fmt_mb(v) if v else "not run: %s"
                                           % s.error, verdict(None if not v else v <= GOAL_RSS)))
    held = (lock.r.get("held") or {}) if lock else {}
    ups = lock.r.get("held_updates") or []
    lines += [
        "", "## GET /json on one worker while another process holds SQLite's write lock", "",
        "| without the hold: req/s (p99) | during the hold: req/s (p99) | goal p99 ≤ %.0f ms |"
        % GOAL_P99_MS, "|---|---|---|",
        "| %s | %s | %s |" % (
            cell(lock, "free"), cell(lock, "held"),
            verdict(None if "p99" not in held else held["p99"] <= GOAL_P99_MS)),
        "",
        "BEGIN IMMEDIATE held %.1f s by python3's sqlite3; %d GET /updates?queries=5 sent just "
        "after it was taken: %d still waiting when wrk ended; answered %s."
        % (lock.r.get("hold_s", 0), HOLD_UPDATES, lock.r.get("held_updates_pending", -1),
           ", ".join("%d after %.2f s" % (st, dt) for st, dt, _ in sorted(ups)) or "none"),
    ]
    notes = notes + noise_notes([crest, peer, sqlite, lock])
    if notes:
        lines += ["", "Notes:"] + ["- " + n for n in notes]
    lines += ["", "Run time: %.0f s." % seconds_taken]
    return "\n".join(lines) + "\n"


def ceiling_lines(crest, peer):
    """Where the CPU of crest's runs went, per request, and what that leaves for any server: the
    machine's cores spent on PostgreSQL and wrk alone, at the cost per request they had in the
    run, answer at most cores ÷ (PostgreSQL's + wrk's CPU per request), with the server under
    test taking no CPU at all."""
    cores = os.cpu_count() or 1
    lines = ["", "## Where a request's CPU goes (crest's runs) and the ceiling it leaves", "",
             "CPU time per request of each process during crest's runs above (psutil; wrk's from "
             "its rusage). The ceiling: this machine's %d cores spent only on PostgreSQL and wrk, "
             "at their cost per request, with the server under test taking no CPU at all." % cores,
             "The last columns add crest's own cost: all the cores shared by the three at the "
             "costs measured.",
             "", "| test | crest µs | PostgreSQL µs | wrk µs | ceiling req/s | ceiling ÷ FastAPI "
             "| %d × FastAPI within the ceiling? | with crest's cost: req/s | ÷ FastAPI |"
             % GOAL_RATIO, "|---|---|---|---|---|---|---|---|---|"]
    for name, path in TESTS:
        r = crest.r.get(name, {}) if crest else {}
        u, f = r.get("cpu_us"), rps_of(peer, name)
        if not u or not u.get("pg"):
            lines.append("| %s | — | — | — | — | — | — | — | — |" % path)
            continue
        ceiling = cores / ((u["pg"] + u["wrk"]) / 1e6)
        shared = cores / ((u["server"] + u["pg"] + u["wrk"]) / 1e6)
        lines.append("| %s | %.1f | %.1f | %.1f | %s | %s | %s | %s | %s |" % (
            path, u["server"], u["pg"], u["wrk"], lib.fmt_rps(ceiling),
            "%.1f ×" % (ceiling / f) if f else "—",
            "—" if not f else "yes" if ceiling >= GOAL_RATIO * f else "**no**",
            lib.fmt_rps(shared), "%.1f ×" % (shared / f) if f else "—"))
    return lines


def shown_path(path):
    rel = os.path.relpath(os.path.abspath(path), REPO_DIR)
    return path if rel.startswith("..") else rel


# ---------------------------------------------------------------------------------------------
# The run.

SERVER_PIN, WRK_PIN = [], []


def on_signal(signum, frame):
    raise KeyboardInterrupt  # unwinds through the finally blocks that stop everything


def main():
    global SERVER_PIN, WRK_PIN
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tfb", default="build/examples/tfb", help="the example's binary")
    ap.add_argument("--seconds", type=int, default=5, help="length of each wrk run")
    ap.add_argument("--conns", type=int, default=64, help="wrk connections")
    ap.add_argument("--pool", type=int, default=8,
                    help="crest's PostgreSQL connections per worker, and pgbench's -c, for the "
                         "throughput runs (the peer's asyncpg pool holds 10); the RSS runs keep the "
                         "example's default of 2")
    ap.add_argument("--out", default=os.path.join("bench", "results", "tfb.md"))
    args = ap.parse_args()
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    if not shutil.which("wrk"):
        sys.exit("tfb.py needs wrk: sh tools/ensure-packages.sh wrk python3-psutil")
    lib.raise_nofile(4 * args.conns + 256)
    SERVER_PIN, WRK_PIN = lib.pinning()
    binary = os.path.abspath(args.tfb)
    bindir, reason = pg.find_bindir()
    if reason:
        sys.exit("tfb.py: " + reason)

    t0 = time.monotonic()
    cluster = pg.Postgres(bindir)
    sqlite_dir = tempfile.mkdtemp(prefix="crest-bench-tfb-sqlite-")
    sqlite_path = os.path.join(sqlite_dir, "tfb.db")
    notes = []
    peer = crest = sqlite = lock = None
    try:
        log("PostgreSQL: initdb and start on port %d" % cluster.port)
        cluster.init()
        cluster.start()
        if WRK_PIN:
            items_pg.pin_postgres(cluster, 1)
        dbname = cluster.create_database("tfb")
        url = cluster.url(dbname)
        pg_pid = cluster.postmaster_pid()
        migrate = tfb_server("migrate", "tfb (migration)", binary, 1, url, args.pool)
        measure_rss(migrate)  # the tables are there once its pool is up
        # the SQLite file too: RSS at ready is measured with the tables there on both databases,
        # not while the first start creates and fills them
        measure_rss(tfb_server("migrate-sqlite", "tfb (migration, SQLite)", binary, 1,
                               sqlite_path, args.pool))
        cluster.sql("VACUUM ANALYZE", db=dbname)
        busy = lib.psutil.cpu_percent(interval=1.0)

        rss = [tfb_server("rss-pg", "PostgreSQL (pools of %d)" % RSS_POOL, binary, 2, url,
                          RSS_POOL),
               tfb_server("rss-sqlite", "SQLite", binary, 2, sqlite_path, RSS_POOL)]
        for s in rss:
            log("%s: RSS at ready" % s.key)
            try:
                measure_rss(s)
            except lib.Unavailable as e:
                s.error = str(e)
        crest = tfb_server("crest", "crest", binary, 1, url, args.pool)
        peer = peer_server(url)
        sqlite = tfb_server("sqlite", "crest on SQLite", binary, 1, sqlite_path, args.pool)
        for s, tests, pid in ((crest, TESTS, pg_pid), (peer, TESTS, pg_pid),
                              (sqlite, SQLITE_TESTS, None)):
            try:
                measure_tests(s, tests, args, notes, pid)
            except lib.Unavailable as e:
                s.error = str(e)
        log("pgbench -S -M prepared -c %d" % args.pool)
        pgbench = measure_pgbench(cluster, args)
        lock = tfb_server("lock", "crest on SQLite, held lock", binary, 1, sqlite_path, args.pool)
        log("SQLite write lock held by another process: GET /json")
        try:
            measure_held_lock(lock, sqlite_path, args, notes)
        except lib.Unavailable as e:
            lock.error = str(e)
    finally:
        cluster.destroy()
        shutil.rmtree(sqlite_dir, ignore_errors=True)

    text = report(args, cluster, crest, peer, sqlite, pgbench, rss, lock, notes, busy,
                  time.monotonic() - t0)
    print(text, end="")
    if os.path.dirname(args.out):
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(text)
    log("written to %s" % args.out)


if __name__ == "__main__":
    main()
