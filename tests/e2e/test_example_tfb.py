"""examples/tfb.c (issue 15): the TechEmpower Framework Benchmarks test types, checked the way the
official verifier (toolset/test_types/*, verifications.py) and the test-type requirements read
them, on both backends: SQLite (a file in the test's directory) and PostgreSQL (a role and schema
of the test's own on the session's cluster, tests/e2e/pg.py).

- headers: Server, Date (an RFC 7231 date that changes from one second to the next, not cached),
  Content-Type as the verifier's regular expressions want it, Content-Length equal to the body;
- /json and /plaintext bodies; /db one JSON object with exactly the keys id and randomNumber,
  integers in 1..10,000, the row's current value in the database;
- /queries and /updates: the verifier's cases (2, 0, foo, 501, empty) and a missing or huge
  parameter, clamped to 1..500, each object the database's row; updates read back afterwards;
- /fortunes: the 12 rows plus the one added at request time, sorted, escaped, compared with the
  verifier's expected document after its normalisation (FortuneHTMLParser's rules, restated here);
- PostgreSQL: statements counted with the statistics collector (pg_stat_user_tables), since
  pg_stat_statements is not loaded by default: one index scan per row read, one more per row
  updated, n_tup_upd equal to the rows written, no sequential scan of World; one scan of Fortune
  per /fortunes;
- the tables: TechEmpower's names and columns, 10,000 and 12 rows, created by migration 1 when
  missing; a second start (or tables made by TechEmpower's own script) uses them as they are;
  three instances started at once on a fresh database apply the migration once.
"""
import datetime
import html.parser
import http.client
import json
import os
import re
import sqlite3
import subprocess
import time

import pytest

from conftest import SANITIZER_REPORT, Server, clean_env, free_port
from pg import wait_store_up

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(os.environ.get("CREST_BUILD") or os.path.join(REPO, "build"), "examples",
                       "tfb")

WORLD_ROWS = 10000
MAX_QUERIES = 500

# The Fortune table of TechEmpower's setup (toolset/databases/*/create*.sql).
FORTUNES = {
    1: "fortune: No such file or directory",
    2: "A computer scientist is someone who fixes things that aren't broken.",
    3: "After enough decimal places, nobody gives a damn.",
    4: "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1",
    5: "A computer program does what you tell it to do, not what you want it to do.",
    6: "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen",
    7: "Any program that runs right is obsolete.",
    8: "A list is only as strong as its weakest link. — Donald Knuth",
    9: "Feature: A bug with seniority.",
    10: "Computers make very fast, very accurate mistakes.",
    11: '<script>alert("This should not be displayed in a browser alert box.");</script>',
    12: "フレームワークのベンチマーク",
}

# What the verifier compares a normalised /fortunes page with (fortune_html_parser.py's
# valid_fortune): one line per row, the added fortune with id 0, sorted by message.
VALID_FORTUNE = """<!doctype html><html>
<head><title>Fortunes</title></head>
<body><table>
<tr><th>id</th><th>message</th></tr>
<tr><td>11</td><td>&lt;script&gt;alert(&quot;This should not be displayed in a browser \
alert box.&quot;);&lt;/script&gt;</td></tr>
<tr><td>4</td><td>A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1</td></tr>
<tr><td>5</td><td>A computer program does what you tell it to do, not what you want it to do.\
</td></tr>
<tr><td>2</td><td>A computer scientist is someone who fixes things that aren&apos;t broken.\
</td></tr>
<tr><td>8</td><td>A list is only as strong as its weakest link. — Donald Knuth</td></tr>
<tr><td>0</td><td>Additional fortune added at request time.</td></tr>
<tr><td>3</td><td>After enough decimal places, nobody gives a damn.</td></tr>
<tr><td>7</td><td>Any program that runs right is obsolete.</td></tr>
<tr><td>10</td><td>Computers make very fast, very accurate mistakes.</td></tr>
<tr><td>6</td><td>Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen</td></tr>
<tr><td>9</td><td>Feature: A bug with seniority.</td></tr>
<tr><td>1</td><td>fortune: No such file or directory</td></tr>
<tr><td>12</td><td>フレームワークのベンチマーク</td></tr>
</table></body></html>"""

CONTENT_TYPES = {  # verifications.py verify_headers
    "json": r"^application/json(; ?charset=(UTF|utf)-8)?$",
    "html": r"^text/html; ?charset=(UTF|utf)-8$",
    "plaintext": r"^text/plain(; ?charset=(UTF|utf)-8)?$",
}


class FortuneNormaliser(html.parser.HTMLParser):
    """The verifier's normalisation of a fortunes page, restated: tags lower-cased and rebuilt
    without attributes, a newline after <html>, <table>, </head> and each </tr>, character
    references for " ' + < > / ( ) and &mdash; mapped to one spelling, quotes, apostrophes and >
    in text escaped, whitespace-only text dropped, <script> elements and a few tags ignored."""

    IGNORED = {"<meta>", "</meta>", "<link>", "</link>", "<script>", "</script>", "<thead>",
               "</thead>", "<tbody>", "</tbody>"}
    CHARREFS = {("34", "034", "x22"): "&quot;", ("39", "039", "x27"): "&apos;",
                ("43", "043", "x2b"): "+", ("62", "062", "x3e"): "&gt;",
                ("60", "060", "x3c"): "&lt;", ("47", "047", "x2f"): "/",
                ("40", "040", "x28"): "(", ("41", "041", "x29"): ")"}

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.out = []
        self.in_script = False

    def add(self, item):
        self.in_script = item == "<script>" or (self.in_script and item != "</script>")
        if not self.in_script and item not in self.IGNORED:
            self.out.append(item)

    def handle_decl(self, decl):
        self.add(f"<!{decl.lower()}>")

    def handle_charref(self, name):
        for names, text in self.CHARREFS.items():
            if name.lower() in names:
                self.add(text)

    def handle_entityref(self, name):
        self.add("—" if name == "mdash" else f"&{name};")

    def handle_starttag(self, tag, attrs):
        self.add(f"<{tag}>")
        if tag.lower() in ("table", "html"):
            self.add("\n")

    def handle_endtag(self, tag):
        self.add(f"</{tag}>")
        if tag.lower() in ("tr", "head"):
            self.add("\n")

    def handle_data(self, data):
        if data.strip():
            self.add(data.replace("'", "&apos;").replace('"', "&quot;").replace(">", "&gt;"))


def normalise_fortunes(body):
    p = FortuneNormaliser()
    p.feed(body)
    p.close()
    return "".join(p.out)


# ---- the databases, read from outside crest ----


class SqliteDb:
    """The tfb SQLite file, read and written with Python's sqlite3 (another process)."""

    kind = "sqlite"

    def __init__(self, path):
        self.path = str(path)
        self.url = self.path

    def rows(self, query):
        con = sqlite3.connect(self.path, timeout=10)
        try:
            return [tuple(r) for r in con.execute(query)]
        finally:
            con.close()

    def execute(self, script):
        con = sqlite3.connect(self.path, timeout=10)
        try:
            con.executescript(script)
        finally:
            con.close()

    def tables(self):
        return {name: [c[1] for c in self.rows(f'PRAGMA table_info("{name}")')]
                for (name,) in self.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}


class PgDb:
    """The test's schema on the session's PostgreSQL, through psql as the test's role (so
    unqualified names resolve to its schema, as they do for crest)."""

    kind = "postgresql"

    def __init__(self, server, url):
        self.server, self.url = server, url

    def rows(self, query):
        out = []
        for line in self.server.sql(query, url=self.url):
            out.append(tuple(int(v) if re.fullmatch(r"-?\d+", v) else v
                             for v in line.split("|")))
        return out

    def execute(self, script):
        self.server.sql(script, url=self.url)

    def tables(self):
        cols = self.rows("SELECT table_name, column_name FROM information_schema.columns "
                         "WHERE table_schema = current_schema() ORDER BY ordinal_position")
        tables = {}
        for table, column in cols:
            tables.setdefault(table, []).append(column)
        return tables

    def world_stats(self):
        """Scans and writes of World, and scans of Fortune, as the statistics collector has
        them: {seq, idx, fetched, upd, fortune_seq}."""
        (row,) = self.rows(
            "SELECT w.seq_scan, coalesce(w.idx_scan, 0), coalesce(w.idx_tup_fetch, 0), "
            "w.n_tup_upd, f.seq_scan FROM pg_stat_user_tables w, pg_stat_user_tables f "
            "WHERE w.schemaname = current_schema() AND w.relname = 'world' "
            "AND f.schemaname = current_schema() AND f.relname = 'fortune'")
        return dict(zip(("seq", "idx", "fetched", "upd", "fortune_seq"), row))


def world(db):
    return dict(db.rows("SELECT id, randomNumber FROM World"))


@pytest.fixture
def tfb_db(db_backend, tmp_path, request):
    if db_backend == "sqlite":
        return SqliteDb(tmp_path / "tfb.db")
    return PgDb(request.getfixturevalue("pg_server"), request.getfixturevalue("pg_url"))


# ---- the example, started and stopped by pid ----


@pytest.fixture
def start_tfb(tmp_path):
    """Factory: start_tfb(db, workers=2, via_env=False, wait=True) starts build/examples/tfb on a
    free port against db (its URL by --db, or by DATABASE_URL with via_env) and returns a Server;
    for PostgreSQL, waits until /healthz says every worker's pool is up. Every one is stopped by
    pid when the test ends, and must exit 0 without a sanitizer report."""
    if not os.access(EXAMPLE, os.X_OK):
        pytest.fail(f"{EXAMPLE} is not built (make build builds the examples)")
    servers = []

    def start(db, workers=2, via_env=False, wait=True):
        for _attempt in range(3):
            port = free_port()
            argv = [EXAMPLE, "--host", "127.0.0.1", "--port", str(port), "--workers",
                    str(workers)]
            env = clean_env({"DATABASE_URL": db.url} if via_env else None)
            if not via_env:
                env.pop("DATABASE_URL", None)
                argv += ["--db", db.url]
            proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    errors="replace")
            srv = Server(proc, port, tmp_path)
            servers.append(srv)
            if not wait:
                return srv
            if srv.wait_ready(timeout=30):
                srv.started = True
                if db.kind == "postgresql":
                    wait_store_up(srv, timeout=20)
                return srv
            srv.stop()
            if "in use" not in " ".join(srv.stderr).lower():
                break
        pytest.fail(f"tfb did not start: {argv}\nexit={proc.returncode}\nstderr={srv.stderr}")

    yield start
    problems = []
    for srv in servers:
        rc = srv.stop()
        if srv.started and rc != 0:
            problems.append(f"tfb on port {srv.port} exited {rc}: {srv.stderr[-10:]}")
        if any(SANITIZER_REPORT.search(line) for line in srv.stderr):
            problems.append("\n".join(srv.stderr[-40:]))
    if problems:
        pytest.fail("\n".join(problems))


class Client:
    """One keep-alive connection (http.client, as a benchmark client would hold one)."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)

    def get(self, path):
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        body = r.read()
        return r, body

    def close(self):
        self.conn.close()


@pytest.fixture
def client():
    clients = []

    def make(srv):
        clients.append(Client(srv.port))
        return clients[-1]

    yield make
    for c in clients:
        c.close()


def check_headers(r, body, kind):
    """verify_headers: Server, Date, Content-Type, a size header; the date parses."""
    for name in ("Server", "Date", "Content-Type", "Content-Length"):
        assert r.getheader(name), f"{name} missing: {r.getheaders()}"
    assert int(r.getheader("Content-Length")) == len(body)
    datetime.datetime.strptime(r.getheader("Date"), "%a, %d %b %Y %H:%M:%S %Z")
    assert r.getheader("Date").endswith(" GMT")
    assert re.match(CONTENT_TYPES[kind], r.getheader("Content-Type")), r.getheader("Content-Type")


def check_world_object(obj, rows=None):
    """verify_randomnumber_object, as a failure for anything it warns about: exactly the keys id
    and randomNumber, integers, id in 1..10,000, randomNumber at most 10,000; the row's value
    in the database when rows (World as a dict) is given."""
    assert isinstance(obj, dict) and set(obj) == {"id", "randomNumber"}, obj
    assert type(obj["id"]) is int and type(obj["randomNumber"]) is int, obj
    assert 1 <= obj["id"] <= WORLD_ROWS and 1 <= obj["randomNumber"] <= WORLD_ROWS, obj
    if rows is not None:
        assert rows[obj["id"]] == obj["randomNumber"], (obj, rows[obj["id"]])


def check_world_list(body, expected_len, rows=None):
    items = json.loads(body)
    assert isinstance(items, list) and len(items) == expected_len, body[:200]
    for obj in items:
        check_world_object(obj, rows)
    return items


# The verifier's cases for /queries and /updates (verify_query_cases), then ours: no parameter,
# a negative number, a number too long for an int, leading zeros, a number with letters.
QUERY_CASES = [("?queries=2", 2), ("?queries=0", 1), ("?queries=foo", 1), ("?queries=501", 500),
               ("?queries=", 1), ("", 1), ("?queries=-3", 1), ("?queries=99999999999999", 500),
               ("?queries=007", 7), ("?queries=5x", 1), ("?queries=20", 20)]


# ---- the test types ----


def test_json_and_plaintext_follow_the_rules(tfb_db, start_tfb, client):
    srv = start_tfb(tfb_db)
    c = client(srv)
    r, body = c.get("/json")
    assert r.status == 200 and json.loads(body) == {"message": "Hello, World!"}
    check_headers(r, body, "json")
    r, body = c.get("/plaintext")
    assert r.status == 200 and body == b"Hello, World!"
    check_headers(r, body, "plaintext")
    first = r.getheader("Date")
    time.sleep(1.1)  # the verifier's "Invalid Cached Date": the next second has another Date
    r, body = c.get("/plaintext")
    assert r.getheader("Date") != first


def test_db_answers_one_row_as_an_object(tfb_db, start_tfb, client):
    srv = start_tfb(tfb_db)
    c = client(srv)
    rows = world(tfb_db)
    ids = set()
    for _ in range(50):
        r, body = c.get("/db")
        assert r.status == 200
        check_headers(r, body, "json")
        obj = json.loads(body)
        check_world_object(obj, rows)
        ids.add(obj["id"])
    assert len(ids) > 40  # random rows, not one row again and again


def test_queries_clamps_the_count_and_reads_real_rows(tfb_db, start_tfb, client):
    srv = start_tfb(tfb_db)
    c = client(srv)
    rows = world(tfb_db)
    for query, n in QUERY_CASES:
        r, body = c.get("/queries" + query)
        assert r.status == 200, (query, body[:200])
        check_headers(r, body, "json")
        items = check_world_list(body, n, rows)
        if n == MAX_QUERIES:
            assert len({o["id"] for o in items}) > 400  # random ids


def test_fortunes_is_the_verifiers_page(tfb_db, start_tfb, client):
    srv = start_tfb(tfb_db)
    c = client(srv)
    r, body = c.get("/fortunes")
    assert r.status == 200
    check_headers(r, body, "html")
    page = body.decode("utf-8")
    assert normalise_fortunes(page) == VALID_FORTUNE
    assert "<script>" not in page and page.count("<tr>") == 14
    # a row added to the table appears, escaped, in its place: the rows come from the database
    # on each request
    tfb_db.execute("INSERT INTO Fortune (id, message) VALUES (13, 'zz & <b>bold</b>')")
    r, body = c.get("/fortunes")
    page = body.decode("utf-8")
    assert page.count("<tr>") == 15
    assert page.endswith("<tr><td>13</td><td>zz &amp; &lt;b&gt;bold&lt;/b&gt;</td></tr>"
                         "<tr><td>12</td><td>フレームワークのベンチマーク</td></tr>"
                         "</table></body></html>")


def test_updates_write_every_row_they_answer(tfb_db, start_tfb, client):
    srv = start_tfb(tfb_db)
    c = client(srv)
    before = world(tfb_db)
    answered = {}
    for query, n in QUERY_CASES:
        r, body = c.get("/updates" + query)
        assert r.status == 200, (query, body[:200])
        check_headers(r, body, "json")
        items = check_world_list(body, n)
        after = world(tfb_db)  # the rows read back: each answered value is the stored one
        last = {o["id"]: o["randomNumber"] for o in items}  # a repeated id: its last write
        for row_id, number in last.items():
            assert after[row_id] == number, (query, row_id, number, after[row_id])
        answered.update(last)
    after = world(tfb_db)
    assert len(after) == WORLD_ROWS
    changed = sum(1 for i in answered if after[i] != before[i])
    # a new random number in 1..10,000 equals the old one once in 10,000 times
    assert changed >= 0.95 * len(answered), (changed, len(answered))
    untouched = set(after) - set(answered)
    assert all(after[i] == before[i] for i in untouched)


# ---- statements, counted by PostgreSQL ----


def settled_stats(db, want, timeout=10.0):
    """db.world_stats() once the counters in want have reached their values, and 0.3 s more so
    that one that goes past it is seen. PostgreSQL 15 flushes an idle backend's table statistics
    up to 10 s late (PGSTAT_IDLE_INTERVAL), but at once when the backend exits: the callers stop
    crest, whose connections' backends then exit, before they read."""
    deadline = time.monotonic() + timeout
    while True:
        stats = db.world_stats()
        if all(stats[k] >= v for k, v in want.items()) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    time.sleep(0.3)
    return db.world_stats()


def test_postgresql_runs_one_select_per_row_and_one_update_per_row(pg_server, pg_url, start_tfb,
                                                                   client):
    db = PgDb(pg_server, pg_url)
    assert start_tfb(db, workers=1).stop() == 0  # the migration's own scans and writes
    time.sleep(0.5)
    base = before = db.world_stats()
    cases = [  # path, requests, (index scans, rows fetched, rows updated, Fortune scans)
        ("/db", 40, (40, 40, 0, 0)),
        ("/queries?queries=20", 10, (200, 200, 0, 0)),
        ("/queries?queries=501", 2, (1000, 1000, 0, 0)),
        ("/updates?queries=20", 10, (400, 400, 200, 0)),  # a SELECT and an UPDATE per row
        ("/updates?queries=1", 5, (10, 10, 5, 0)),
        ("/fortunes", 10, (0, 0, 0, 10)),
    ]
    for path, times, (idx, fetched, upd, fortune_seq) in cases:
        srv = start_tfb(db, workers=1)
        c = client(srv)
        for _ in range(times):
            r, body = c.get(path)
            assert r.status == 200, body[:200]
        c.close()
        assert srv.stop() == 0
        want = {"idx": before["idx"] + idx, "fetched": before["fetched"] + fetched,
                "upd": before["upd"] + upd, "fortune_seq": before["fortune_seq"] + fortune_seq}
        after = settled_stats(db, want)
        got = {k: after[k] - before[k] for k in want}
        assert got == {"idx": idx, "fetched": fetched, "upd": upd, "fortune_seq": fortune_seq}, \
            (path, got)
        before = after
    # World is never read whole: every statement finds its row through the primary key
    assert db.world_stats()["seq"] == base["seq"]


# ---- the tables and their migration ----


def test_tables_have_the_techempower_names_and_rows(tfb_db, start_tfb):
    start_tfb(tfb_db)
    tables = tfb_db.tables()
    if tfb_db.kind == "postgresql":  # unquoted names: PostgreSQL folds them to lower case
        assert tables["world"] == ["id", "randomnumber"]
        assert tables["fortune"] == ["id", "message"]
    else:
        assert tables["World"] == ["id", "randomNumber"]
        assert tables["Fortune"] == ["id", "message"]
    assert set(tables) == {"World", "Fortune", "crest_migrations"} or \
        set(tables) == {"world", "fortune", "crest_migrations"}, tables
    assert tfb_db.rows("SELECT count(*), min(id), max(id), min(randomNumber), "
                       "max(randomNumber) FROM World")[0][:3] == (WORLD_ROWS, 1, WORLD_ROWS)
    lo, hi = tfb_db.rows("SELECT min(randomNumber), max(randomNumber) FROM World")[0]
    assert 1 <= lo and hi <= WORLD_ROWS and hi - lo > 9000  # random over the whole range
    assert dict(tfb_db.rows("SELECT id, message FROM Fortune")) == FORTUNES
    assert tfb_db.rows("SELECT version FROM crest_migrations") == [(1,)]


def test_a_second_start_uses_the_tables_as_they_are(tfb_db, start_tfb, client):
    srv = start_tfb(tfb_db)
    assert srv.stop() == 0
    tfb_db.execute("UPDATE World SET randomNumber = 4242 WHERE id = 7; "
                   "DELETE FROM World WHERE id = 10000")
    before = world(tfb_db)
    srv = start_tfb(tfb_db, via_env=True)  # DATABASE_URL this time
    r, body = client(srv).get("/fortunes")  # (not /db: row 10,000 is gone, a 404 for /db)
    assert normalise_fortunes(body.decode()) == VALID_FORTUNE
    assert world(tfb_db) == before  # not refilled: row 10,000 stays deleted, row 7 as set
    assert tfb_db.rows("SELECT version FROM crest_migrations") == [(1,)]


TECHEMPOWER_SETUP = (  # the shape of toolset/databases/postgres/create-postgres.sql
    "CREATE TABLE World (id integer NOT NULL, randomNumber integer NOT NULL default 0, "
    "PRIMARY KEY (id)); "
    "{worlds}; "
    "CREATE TABLE Fortune (id integer NOT NULL, message varchar(2048) NOT NULL, "
    "PRIMARY KEY (id)); "
    "INSERT INTO Fortune (id, message) VALUES {fortunes};")
WORLDS = {  # rows 1..10,000 with numbers of our choosing, so a refill would show
    "postgresql": "INSERT INTO World (id, randomNumber) SELECT x, (x * 7919) % 10000 + 1 "
                  "FROM generate_series(1, 10000) AS x",
    "sqlite": "WITH RECURSIVE s(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM s WHERE x < 10000) "
              "INSERT INTO World (id, randomNumber) SELECT x, (x * 7919) % 10000 + 1 FROM s",
}


def test_tables_made_by_techempowers_script_are_used_as_they_are(tfb_db, start_tfb, client):
    fortunes = ", ".join("(%d, '%s')" % (i, m.replace("'", "''")) for i, m in FORTUNES.items())
    tfb_db.execute(TECHEMPOWER_SETUP.format(worlds=WORLDS[tfb_db.kind], fortunes=fortunes))
    before = world(tfb_db)
    srv = start_tfb(tfb_db)
    c = client(srv)
    for _ in range(20):
        r, body = c.get("/db")
        check_world_object(json.loads(body), before)
    r, body = c.get("/fortunes")
    assert normalise_fortunes(body.decode()) == VALID_FORTUNE
    assert world(tfb_db) == before
    assert tfb_db.rows("SELECT version FROM crest_migrations") == [(1,)]


def test_three_instances_at_once_migrate_once(tfb_db, start_tfb, client):
    servers = [start_tfb(tfb_db, wait=False) for _ in range(3)]
    for srv in servers:
        assert srv.wait_ready(timeout=30), srv.stderr
        srv.started = True
        if tfb_db.kind == "postgresql":
            wait_store_up(srv, timeout=20)
    assert tfb_db.rows("SELECT version FROM crest_migrations") == [(1,)]
    assert tfb_db.rows("SELECT count(*) FROM World") == [(WORLD_ROWS,)]
    assert tfb_db.rows("SELECT count(*) FROM Fortune") == [(len(FORTUNES),)]
    if tfb_db.kind == "postgresql":  # every row written by one transaction: the migration's
        assert tfb_db.rows("SELECT count(DISTINCT xmin::text) FROM World") == [(1,)]
    rows = world(tfb_db)
    for srv in servers:
        r, body = client(srv).get("/db")
        assert r.status == 200
        check_world_object(json.loads(body), rows)
