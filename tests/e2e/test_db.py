"""The database API (issue 15) through tests/apps/db_app.c, an application written only against
crest.h, on both backends: typed parameters and rows, transactions that roll back whole,
classified errors, migrations applied once by instances started together, acknowledged writes
that survive kill -9, a SQLite write lock held by another process that stalls no worker, and a
PostgreSQL password that never reaches a log."""
import http.client
import json
import re
import os
import signal
import sqlite3
import subprocess
import threading
import time

import pytest

from conftest import Server, clean_env, free_port

APP = os.path.join(os.environ.get("CREST_BUILD", "build"), "test-apps", "db_app")


@pytest.fixture
def db_url(request, db_backend, tmp_path):
    if db_backend == "sqlite":
        return str(tmp_path / "app.db")
    return request.getfixturevalue("pg_url")


def start(tmp_path, url, *flags, workers=1, wait=True):
    if not os.path.exists(APP):
        pytest.fail(f"{APP} is not built (make build builds it)")
    port = free_port()
    proc = subprocess.Popen(
        [APP, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--db", url,
         *flags], cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    srv = Server(proc, port, tmp_path)
    if wait:
        assert srv.wait_ready(), f"db_app did not start: {srv.stderr}"
    return srv


@pytest.fixture
def app(tmp_path, db_url):
    srv = start(tmp_path, db_url)
    wait_up(srv)
    yield srv
    assert srv.stop() == 0


def wait_up(srv, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _ = http_get(srv.port, "/healthz")
        if status == 200:
            return
        time.sleep(0.05)
    pytest.fail(f"the database did not come up: {srv.stderr}")


def http_get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def run(port, *stmts, timeout=10):
    """POSTs statements (sql, params=[], one=False) as one call: (status, parsed body)."""
    body = {"stmts": [{"sql": s[0], "params": list(s[1]) if len(s) > 1 else [],
                       "one": bool(s[2]) if len(s) > 2 else False} for s in stmts]}
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request("POST", "/run", json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    data = json.loads(r.read())
    c.close()
    return r.status, data


def rows(data, k=0):
    return data["results"][k]["rows"]


SCHEMA = ("CREATE TABLE IF NOT EXISTS t(id integer PRIMARY KEY, name text UNIQUE NOT NULL, "
          "n integer CHECK (n >= 0), x double precision, flag boolean)")


def test_parameters_and_rows_are_typed(app):
    assert run(app.port, (SCHEMA,))[0] == 200
    status, data = run(app.port, ("INSERT INTO t(id, name, n, x, flag) VALUES ($1, $2, $3, $4, $5) "
                                  "RETURNING id, name", [7, "seven ✓", 3, 2.5, True]))
    assert status == 200, data
    assert rows(data) == [[7, "seven ✓"]] and data["results"][0]["changes"] == 1
    # $N may repeat and come in any order; null binds as NULL
    status, data = run(app.port, ("SELECT $2 = name AS same, n, x, CAST($1 AS text) IS NULL AS missing "
                                  "FROM t WHERE id = $3", [None, "seven ✓", 7]))
    assert status == 200, data
    assert data["results"][0]["columns"] == ["same", "n", "x", "missing"]
    same, n, x, missing = rows(data)[0]
    assert same in (True, 1) and n == 3 and x == 2.5 and missing in (True, 1)


def test_a_transaction_commits_or_rolls_back_whole(app):
    run(app.port, (SCHEMA,))
    status, data = run(app.port, ("INSERT INTO t(id, name) VALUES (1, 'a')",),
                       ("INSERT INTO t(id, name) VALUES (2, 'a')",))  # the second: unique
    assert status == 409 and data["detail"].startswith("Conflict"), data
    assert rows(run(app.port, ("SELECT count(*) AS c FROM t",))[1]) == [[0]]
    status, data = run(app.port, ("INSERT INTO t(id, name) VALUES (1, 'a')",),
                       ("INSERT INTO t(id, name) VALUES (2, 'b')",))
    assert status == 200, data
    assert rows(run(app.port, ("SELECT count(*) AS c FROM t",))[1]) == [[2]]


def test_a_committed_write_is_answered_under_the_memory_budget(tmp_path, db_url, db_backend):
    """Transactions with big results, at once, under a tight budget: the budget sheds some (503),
    but none that committed, or the client is told a write failed that is in the database."""
    big = ("SELECT printf('%.150000c', 'x') AS v" if db_backend == "sqlite"
           else "SELECT repeat('x', 150000) AS v")
    pad = "p" * 200000  # bodies the budget must make room for, as the results
    srv = start(tmp_path, db_url, "--memory-limit", str(4 << 20))
    try:
        wait_up(srv)
        run(srv.port, ("CREATE TABLE IF NOT EXISTS w(k integer PRIMARY KEY, pad text)",))
        statuses, details = {}, {}

        def one(k):
            try:
                status, data = run(srv.port, ("INSERT INTO w(k, pad) VALUES ($1, $2)", [k, pad]),
                                   (big,), timeout=20)
                statuses[k] = status
                details[k] = data.get("detail")
            except (OSError, http.client.HTTPException, ValueError) as e:
                statuses[k] = repr(e)

        for wave in range(3):
            threads = [threading.Thread(target=one, args=(wave * 100 + i,)) for i in range(40)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        committed = {r[0] for r in rows(run(srv.port, ("SELECT k FROM w",))[1])}
        assert {k: (statuses[k], details.get(k)) for k in committed if statuses[k] != 200} == {}
        # shed: 503, or the connection closed on a body the budget had no room for (sent whole
        # before the answer was read, it meets a reset)
        shed = [k for k, s in statuses.items() if s == 503 or isinstance(s, str)]
        assert all(statuses[k] == 200 for k in statuses if k not in shed), statuses
        assert shed, "the budget never bit: the test proves nothing"
    finally:
        assert srv.stop() == 0, srv.stderr[-20:]


def test_errors_are_classified(app):
    run(app.port, (SCHEMA,))
    run(app.port, ("CREATE TABLE IF NOT EXISTS child(id integer PRIMARY KEY, "
                   "parent integer NOT NULL REFERENCES t(id))",))
    assert run(app.port, ("INSERT INTO t(id, name) VALUES (1, 'a')",))[0] == 200
    assert run(app.port, ("INSERT INTO t(id, name) VALUES (1, 'b')",))[0] == 409  # primary key
    assert run(app.port, ("INSERT INTO child VALUES (1, 99)",))[0] == 409  # foreign key
    assert run(app.port, ("INSERT INTO t(id, name, n) VALUES (3, 'c', -1)",))[0] == 422  # check
    assert run(app.port, ("INSERT INTO t(id, name) VALUES (4, NULL)",))[0] == 422  # not null
    status, data = run(app.port, ("UPDATE t SET n = 1 WHERE id = $1", [404], True))
    assert (status, data["detail"]) == (404, "Not Found")
    assert run(app.port, ("SELECT * FROM t WHERE id = $1", [404], True))[0] == 404
    assert run(app.port, ("SELECT * FROM t WHERE id = $1", [1], True))[0] == 200
    assert run(app.port, ("SELEC nonsense",))[0] == 500
    assert run(app.port, ("SELECT * FROM no_such_table",))[0] == 500
    assert run(app.port, ("SELECT $1::integer", ["x"]))[0] in (200, 500)  # SQLite casts to 0
    # the app goes on serving after every one of them
    assert rows(run(app.port, ("SELECT count(*) AS c FROM t",))[1]) == [[1]]


def test_migrations_apply_once_when_three_instances_start_together(tmp_path, db_url):
    flags = ["--migration", "CREATE TABLE m(x integer); INSERT INTO m VALUES (1)",
             "--migration", "INSERT INTO m VALUES (2)"]
    servers = [start(tmp_path, db_url, *flags, wait=False) for _ in range(3)]
    try:
        for srv in servers:
            assert srv.wait_ready(), srv.stderr
            wait_up(srv)
        status, data = run(servers[0].port, ("SELECT x FROM m ORDER BY x",),
                           ("SELECT version FROM crest_migrations ORDER BY version",))
        assert status == 200, data
        assert rows(data, 0) == [[1], [2]] and rows(data, 1) == [[1], [2]]
    finally:
        for srv in servers:
            srv.stop()
    # a later start with one more migration applies only that one
    srv = start(tmp_path, db_url, *flags, "--migration", "INSERT INTO m VALUES (3)")
    try:
        wait_up(srv)
        assert rows(run(srv.port, ("SELECT x FROM m ORDER BY x",))[1]) == [[1], [2], [3]]
    finally:
        assert srv.stop() == 0


def refused_for(srv, backend):
    """What refusing a database's migrations looks like: SQLite is opened at start, so the
    application exits with the reason; PostgreSQL is reached in the background, so it serves with
    /healthz degraded and says why in its log, retrying."""
    if backend == "sqlite":
        assert srv.wait(10) == 1
    else:
        assert srv.wait_ready(), srv.stderr
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("is not the one" in l for l in srv.stderr):
            time.sleep(0.05)
        assert http_get(srv.port, "/healthz")[0] == 503
        assert srv.stop() == 0
    why = [line for line in srv.stderr if "migration 1 is not the one applied" in line]
    assert why and "add a new one" in why[0], srv.stderr


def test_an_applied_migration_that_changed_is_refused(tmp_path, db_url, db_backend):
    """As Flyway: each applied script's checksum is recorded, and an application whose migration
    1 is not the text applied as version 1 (edited after it ran, or another application's in the
    same database) is refused instead of served on a schema it did not make. A table from before
    checksums adopts the application's at its next start."""
    m1 = ["--migration", "CREATE TABLE m(x integer)"]
    m2 = ["--migration", "INSERT INTO m VALUES (1)"]
    edited = ["--migration", "CREATE TABLE m(x integer, y integer)"]
    srv = start(tmp_path, db_url, *m1, *m2)
    try:
        wait_up(srv)
        status, data = run(srv.port, ("SELECT count(*) AS n FROM crest_migrations "
                                      "WHERE checksum IS NOT NULL",))
        assert status == 200 and rows(data) == [[2]], data
    finally:
        assert srv.stop() == 0
    refused_for(start(tmp_path, db_url, *edited, *m2, wait=False), db_backend)
    # a table as crest wrote it before checksums: the next start records the application's
    srv = start(tmp_path, db_url, *m1, *m2)
    try:
        wait_up(srv)
        assert run(srv.port, ("ALTER TABLE crest_migrations DROP COLUMN checksum",))[0] == 200
    finally:
        assert srv.stop() == 0
    m3 = ["--migration", "INSERT INTO m VALUES (3)"]
    srv = start(tmp_path, db_url, *m1, *m2, *m3)
    try:
        wait_up(srv)
        status, data = run(srv.port, ("SELECT version FROM crest_migrations WHERE checksum IS "
                                      "NOT NULL ORDER BY version",), ("SELECT x FROM m",))
        assert status == 200 and rows(data, 0) == [[1], [2], [3]] and rows(data, 1) == [[1], [3]]
    finally:
        assert srv.stop() == 0
    refused_for(start(tmp_path, db_url, *edited, *m2, *m3, wait=False), db_backend)


def test_acknowledged_writes_survive_kill_9(tmp_path, db_url):
    srv = start(tmp_path, db_url, workers=2)
    acked = []

    def writer(base):
        for i in range(base, base + 40):
            status, _ = run(srv.port, ("INSERT INTO t(id, name) VALUES ($1, $2)", [i, f"n{i}"]))
            if status == 200:
                acked.append(i)

    try:
        wait_up(srv)
        run(srv.port, (SCHEMA,))
        threads = [threading.Thread(target=writer, args=(k * 1000,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        srv.proc.send_signal(signal.SIGKILL)  # by pid, right after the last acknowledgement
        srv.wait(10)
    assert len(acked) == 160
    srv = start(tmp_path, db_url)
    try:
        wait_up(srv)
        got = {r[0] for r in rows(run(srv.port, ("SELECT id FROM t",))[1])}
        assert set(acked) <= got
    finally:
        assert srv.stop() == 0


@pytest.mark.parametrize("db_backend", ["sqlite"])
def test_a_held_sqlite_write_lock_stalls_no_worker(tmp_path, db_url):
    srv = start(tmp_path, db_url, "--timeout-ms", "1500")  # one worker
    try:
        run(srv.port, (SCHEMA,))
        holder = sqlite3.connect(db_url, isolation_level=None, timeout=5)
        holder.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
        held_at = time.monotonic()
        result = {}

        def write():
            t0 = time.monotonic()
            result["status"] = run(srv.port, ("INSERT INTO t(id, name) VALUES (1, 'a')",))[0]
            result["seconds"] = time.monotonic() - t0

        t = threading.Thread(target=write)
        t.start()
        time.sleep(0.2)
        for _ in range(20):  # the same worker answers, reads of the same database included
            t0 = time.monotonic()
            assert http_get(srv.port, "/json")[0] == 200
            assert run(srv.port, ("SELECT count(*) AS c FROM t",))[0] == 200
            assert time.monotonic() - t0 < 0.25
        time.sleep(max(0.0, 0.6 - (time.monotonic() - held_at)))
        holder.execute("COMMIT")  # released at 0.6 s: the write goes through, soon after
        released_at = time.monotonic()
        t.join(5)
        assert result["status"] == 200 and result["seconds"] >= 0.4, result
        assert time.monotonic() - released_at < 0.3, "the write waited long past the release"
        holder.execute("BEGIN IMMEDIATE")  # held past the timeout: 503
        status, data = run(srv.port, ("INSERT INTO t(id, name) VALUES (2, 'b')",))
        assert (status, data["detail"]) == (503, "Database timeout")
        holder.execute("ROLLBACK")
        holder.close()
        assert run(srv.port, ("INSERT INTO t(id, name) VALUES (2, 'b')",))[0] == 200
    finally:
        assert srv.stop() == 0


@pytest.mark.parametrize("db_backend", ["sqlite"])
def test_each_write_behind_a_held_lock_waits_its_own_timeout(tmp_path, db_url):
    """Writes queued behind another process's lock: each is answered 503 when its own timeout
    passes (not when an earlier one's wait ends, nor when the lock comes), and one whose timeout
    has not passed when the lock is released is written."""
    srv = start(tmp_path, db_url, "--timeout-ms", "1000")
    try:
        run(srv.port, (SCHEMA,))
        holder = sqlite3.connect(db_url, isolation_level=None, timeout=5)
        holder.execute("BEGIN IMMEDIATE")
        results = {}

        def write(i):
            t0 = time.monotonic()
            status = run(srv.port, ("INSERT INTO t(id, name) VALUES ($1, $2)", [i, f"n{i}"]))[0]
            results[i] = (status, time.monotonic() - t0)

        threads, prev = [], 0.0
        for i, at in ((1, 0.0), (2, 0.4), (3, 1.4)):  # sent at these times; the lock: 0 to 2.0 s
            time.sleep(at - prev)
            prev = at
            threads.append(threading.Thread(target=write, args=(i,)))
            threads[-1].start()
        time.sleep(2.0 - prev)
        holder.execute("COMMIT")
        for t in threads:
            t.join(10)
        holder.close()
        for i in (1, 2):
            status, seconds = results[i]
            assert status == 503 and 0.9 <= seconds < 1.35, (i, results)
        assert results[3][0] == 200, results
        assert [r[0] for r in rows(run(srv.port, ("SELECT id FROM t",))[1])] == [3]
    finally:
        assert srv.stop() == 0


@pytest.mark.parametrize("db_backend", ["postgresql"])
def test_a_down_server_is_degraded_and_its_password_never_logged(tmp_path, db_backend):
    url = f"postgresql://someone:s3cret-pw@127.0.0.1:{free_port()}/nowhere"
    srv = start(tmp_path, url)
    try:
        status, body = http_get(srv.port, "/healthz")
        assert status == 503 and json.loads(body) == {"status": "degraded", "main": "down"}
        status, data = run(srv.port, ("SELECT 1",))
        assert (status, data["detail"]) == (503, "Database unavailable")
    finally:
        srv.stop()
    logs = "\n".join(srv.stdout + srv.stderr)
    assert "s3cret-pw" not in logs and "someone:***@" in logs


def test_metrics_are_labelled_by_database(tmp_path, db_url):
    srv = start(tmp_path, db_url, workers=2)
    try:
        wait_up(srv)
        run(srv.port, (SCHEMA,))
        for i in range(5):
            assert run(srv.port, ("INSERT INTO t(id, name) VALUES ($1, $2)", [i, f"n{i}"]))[0] == 200
        assert run(srv.port, ("SELECT * FROM nowhere",))[0] == 500
        status, body = http_get(srv.port, "/metrics")
        text = body.decode()
        counts = re.findall(r'^crest_db_query_duration_seconds_count\{db="main"\} (\d+)$', text,
                            re.M)
        assert counts and int(counts[0]) >= 7, text
        errors = re.findall(r'^crest_db_errors_total\{db="main",kind="query"\} (\d+)$', text, re.M)
        assert errors and int(errors[0]) >= 1
        conns = re.findall(r'^crest_db_pool_connections\{db="main",state="(\w+)"\} (\d+)$', text,
                           re.M)
        assert sum(int(v) for _, v in conns) >= 2  # each worker's connections at least
    finally:
        assert srv.stop() == 0
