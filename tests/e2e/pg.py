"""A real PostgreSQL 15 for the black-box tests: Debian's binaries, a cluster of our own.

`Postgres` initialises a cluster in a fresh temporary directory with initdb, as an unprivileged
user (initdb refuses root: when the tests run as root, every PostgreSQL program runs as the
`postgres` system user the Debian package creates, through runuser, and the directory is chowned
to it). The cluster listens on 127.0.0.1 only, on a free port, with its unix socket in its own
directory; host connections need the superuser's password (scram-sha-256), so the password in the
URL crest gets is really checked. fsync stays on: acknowledged writes are tested for durability.
It is started with `pg_ctl start -w` and stopped with `pg_ctl stop -m fast`, falling back to
SIGKILL by the postmaster's pid (from postmaster.pid, which our pg_ctl started).

Fixtures (imported by conftest.py):
- pg_server: one cluster for the whole session; skips with the reason when PostgreSQL is not
  installed and cannot be (tools/ensure-packages.sh installs it when run as root).
- pg_url: a fresh, empty place on it for this test; its postgresql:// URL. A new database costs
  half a second here (CREATE DATABASE copies and fsyncs a template), so each test gets instead a
  new role (same password) owning a schema of its name in one shared database: crest's
  unqualified `items` resolves through the default search_path ("$user", public) to that schema,
  and PostgreSQL 15 lets no one create tables in public, so nothing is shared between tests.
- db_backend: parametrises a test by store, "sqlite" and "postgresql".
- db_flags: the crest flags that select the test's backend: [] for SQLite (start_crest already
  passes --db tmp/crest.db) or ["--db", pg_url]; start_crest(*db_flags) then uses it, since the
  last --db wins.
"""

import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PG_VERSION = "15"
USER = "crest"
# Distinctive, so a test can grep crest's output for it; URL-safe, so it needs no escaping.
PASSWORD = "pw-Zq7rX2kV9sLm4nT"
START_TIMEOUT = 30  # seconds for pg_ctl start/restart -w
SQL_TIMEOUT = 30


def _bindir():
    """The PostgreSQL 15 binaries (else the newest installed), or None."""
    want = f"/usr/lib/postgresql/{PG_VERSION}/bin"
    if os.access(os.path.join(want, "initdb"), os.X_OK):
        return want
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return os.path.dirname(found[-1]) if found else None


def find_bindir():
    """The binaries, installing Debian's postgresql when missing and we are root. Returns
    (bindir, None) or (None, reason to skip)."""
    bindir = _bindir()
    if bindir is None and os.geteuid() == 0:
        subprocess.run(["sh", str(REPO / "tools" / "ensure-packages.sh"), "postgresql"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=600)
        bindir = _bindir()
    if bindir is None:
        return None, ("PostgreSQL is not installed and could not be installed "
                      "(apt-get install postgresql): no /usr/lib/postgresql/*/bin/initdb")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return None, "running as root and there is no 'postgres' user to run initdb as"
        if not shutil.which("runuser"):
            return None, "running as root and runuser (util-linux) is missing"
    return bindir, None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k != "DATABASE_URL"}
    env["LC_ALL"] = "C"
    return env


class Postgres:
    """One cluster: .port, .url(db), .start(), .stop(), .restart(), .create_database(),
    .sql(). Not started by the constructor (see init())."""

    _names = itertools.count(1)

    def __init__(self, bindir, port=None):
        self.bindir = bindir
        self.port = port or free_port()
        self.root = tempfile.mkdtemp(prefix="crest-pg-")
        self.data = os.path.join(self.root, "data")
        self.sock_dir = os.path.join(self.root, "sock")
        self.log = os.path.join(self.root, "postgres.log")
        self.as_postgres = os.geteuid() == 0
        os.mkdir(self.sock_dir)
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            for path in (self.root, self.sock_dir):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        self.running = False
        self._dbs = set()

    # ---- running PostgreSQL's programs ----

    def _run(self, prog, *args, timeout=START_TIMEOUT, check=True):
        argv = [os.path.join(self.bindir, prog), *args]
        if self.as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        r = subprocess.run(argv, cwd=self.root, env=_clean_env(), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError(f"{prog} {' '.join(args)} exited {r.returncode}: "
                               f"{r.stderr.strip()[-800:]}\nlog: {self.log_tail()}")
        return r

    def log_tail(self, n=15):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def init(self):
        """initdb with a password-protected superuser; our settings in postgresql.conf."""
        pwfile = os.path.join(self.root, "pwfile")
        with open(pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        os.chmod(pwfile, 0o600)
        self._run("initdb", "-D", self.data, "-U", USER, f"--pwfile={pwfile}",
                  "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
                  "--encoding=UTF8", "--locale=C", "--no-instructions", timeout=120)
        os.unlink(pwfile)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# crest tests\n"
                    "listen_addresses = '127.0.0.1'\n"
                    f"port = {self.port}\n"
                    f"unix_socket_directories = '{self.sock_dir}'\n"
                    "password_encryption = 'scram-sha-256'\n"
                    "fsync = on\n"
                    "synchronous_commit = on\n"
                    "max_connections = 200\n"
                    "shared_buffers = 32MB\n"
                    "log_min_messages = warning\n"
                    "log_connections = off\n")
        return self

    def start(self):
        self._run("pg_ctl", "start", "-w", "-t", str(START_TIMEOUT), "-D", self.data,
                  "-l", self.log, timeout=START_TIMEOUT + 10)
        self.running = True
        self.wait_ready()

    def stop(self, mode="fast"):
        """pg_ctl stop -m fast (or "immediate": a crash, recovered from the WAL at the next
        start); SIGKILL to the postmaster (by its pid) if that failed."""
        pid = self.postmaster_pid()
        try:
            self._run("pg_ctl", "stop", "-w", "-m", mode, "-t", "20", "-D", self.data,
                      timeout=30, check=False)
        except subprocess.TimeoutExpired:
            pass
        if pid and _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 10
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
        self.running = False

    def restart(self):
        """pg_ctl restart -m fast: every connection is closed, the server comes back."""
        self._run("pg_ctl", "restart", "-w", "-m", "fast", "-t", str(START_TIMEOUT),
                  "-D", self.data, "-l", self.log, timeout=START_TIMEOUT + 10)
        self.running = True
        self.wait_ready()

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            r = self._run("pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-t", "2",
                          check=False)
            if r.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL not ready: {r.stdout}{self.log_tail()}")
            time.sleep(0.05)

    def destroy(self):
        if self.running or self.postmaster_pid():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- clients ----

    def url(self, db="postgres", password=PASSWORD, scheme="postgresql"):
        return f"{scheme}://{USER}:{password}@127.0.0.1:{self.port}/{db}"

    def sql(self, query, db="postgres", timeout=SQL_TIMEOUT, url=None):
        """Runs SQL through psql over TCP with the password (as `url`'s user on its database
        when given); returns the rows as text lines."""
        argv = [os.path.join(self.bindir, "psql"), "-X", "-q", "-A", "-t", "-v",
                "ON_ERROR_STOP=1", "-c", query]
        argv += ["-d", url] if url else ["-h", "127.0.0.1", "-p", str(self.port), "-U", USER,
                                         "-d", db]
        env = _clean_env()
        env["PGPASSWORD"] = PASSWORD
        env["PGCONNECT_TIMEOUT"] = "5"
        r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"psql {query!r}: {r.stderr.strip()}")
        return [line for line in r.stdout.splitlines() if line]

    def create_database(self, prefix="t"):
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        self.sql(f'CREATE DATABASE "{name}"')
        return name

    def create_tenant(self, db="crest_tests"):
        """A new role with its own schema in database `db` (created on first use); the URL that
        logs in as it. See pg_url."""
        if db not in self._dbs:
            if not self.sql(f"SELECT 1 FROM pg_database WHERE datname = '{db}'"):
                self.sql(f'CREATE DATABASE "{db}"')
            self._dbs.add(db)
        name = f"t_{os.getpid()}_{next(self._names)}"
        self.sql(f"CREATE ROLE {name} LOGIN PASSWORD '{PASSWORD}'; "
                 f"CREATE SCHEMA {name} AUTHORIZATION {name}", db=db)
        return f"postgresql://{name}:{PASSWORD}@127.0.0.1:{self.port}/{db}"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie of ours is not alive
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def new_cluster(port=None, start=True):
    """A fresh initialised cluster (started unless start=False); skips the test when PostgreSQL
    is unavailable. The caller destroys it (destroy())."""
    bindir, reason = find_bindir()
    if reason:
        pytest.skip(reason)
    pg = Postgres(bindir, port)
    try:
        pg.init()
        if start:
            for attempt in range(3):
                try:
                    pg.start()
                    break
                except RuntimeError:
                    if attempt == 2 or port is not None:
                        raise
                    pg.port = free_port()  # another process took the port: try another
                    _set_port(pg)
    except BaseException:
        pg.destroy()
        raise
    return pg


def _set_port(pg):
    with open(os.path.join(pg.data, "postgresql.conf"), "a") as f:
        f.write(f"port = {pg.port}\n")


@pytest.fixture(scope="session")
def pg_server():
    """One PostgreSQL for the session (see the module's docstring)."""
    pg = new_cluster()
    try:
        yield pg
    finally:
        pg.destroy()


@pytest.fixture
def pg_url(pg_server):
    """A fresh role and schema on the session's PostgreSQL: its URL, password included."""
    if not pg_server.running:
        pg_server.start()  # a test that stopped it failed before starting it again
    return pg_server.create_tenant()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_backend(request):
    return request.param


@pytest.fixture
def db_flags(request, db_backend):
    """crest flags for the test's backend (PostgreSQL is started only for its runs)."""
    if db_backend == "sqlite":
        return []
    return ["--db", request.getfixturevalue("pg_url")]


# ---- clients for the PostgreSQL tests: one request, and a bounded load ----


def item_request(method, path, body=None):
    """The bytes of one keep-alive request, a JSON body when `body` is given."""
    import json

    payload = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    return head.encode() + b"\r\n" + payload


def call(port, method, path, body=None, timeout=5.0):
    """One request on a fresh connection; the Response."""
    from conftest import Conn

    with Conn(port, timeout=timeout) as c:
        return c.request(item_request(method, path, body))


class Load:
    """`clients` threads, each on its own keep-alive connection to `port`, sending GET
    /items/{id} (ids from `read_ids`) and, one request in `write_every`, POST /items, until
    stop() or `max_seconds`. Every answer is recorded as (start, end, status, id of a 201, body)
    in .answers, every failure (timeout, reset, malformed answer) as (start, end, repr) in
    .failures; after a failure the client reconnects."""

    def __init__(self, port, read_ids, clients=4, write_every=3, timeout=6.0, max_seconds=20.0,
                 prefix="load"):
        import threading

        self.port, self.read_ids, self.timeout = port, list(read_ids), timeout
        self.write_every, self.prefix = write_every, prefix
        self.answers, self.failures = [], []
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True)
                         for i in range(clients)]

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 5)

    def _client(self, n):
        from conftest import Conn

        conn, i = None, 0
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            i += 1
            write = not self.read_ids or i % self.write_every == 0
            name = f"{self.prefix}-{n}-{i}"
            raw = (item_request("POST", "/items", {"name": name, "price": 2.5}) if write else
                   item_request("GET", f"/items/{self.read_ids[i % len(self.read_ids)]}"))
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = Conn(self.port, timeout=self.timeout)
                r = conn.request(raw)
            except (OSError, AssertionError) as e:
                self.failures.append((t0, time.monotonic(), repr(e)))
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.01)
                continue
            created = None
            if write and r.status == 201:
                created = (r.json()["id"], name)
            self.answers.append((t0, time.monotonic(), r.status, created, r.body[:200]))
            if r.header("Connection") == "close":
                conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def statuses(self, since=None, until=None):
        return [a[2] for a in self.answers
                if (since is None or a[0] >= since) and (until is None or a[0] < until)]

    def acknowledged(self):
        return [a[3] for a in self.answers if a[3] is not None]


def wait_store_up(srv, timeout=5.0, in_a_row=16):
    """Waits until crest's /healthz answers 200 `in_a_row` times, each on a new connection: every
    worker's store is connected. crest prints its ready line before the PostgreSQL pools have
    connected (in the background), and /healthz answers for the worker that accepted it, so one
    200 does not mean the other workers are up (new connections spread over the workers' listeners
    by hash; 16 in a row reach each of 2 workers but with probability 2^-15). SQLite is up at
    once."""
    deadline = time.monotonic() + timeout
    ok = 0
    while True:
        try:
            ok = ok + 1 if call(srv.port, "GET", "/healthz").status == 200 else 0
            if ok >= in_a_row:
                return srv
        except (OSError, AssertionError):
            ok = 0
        if time.monotonic() > deadline:
            raise AssertionError(f"crest's store not up {timeout} s after start: "
                                 f"{srv.stderr[-5:]}")
        time.sleep(0.01)
