"""Scale-out (issue 9): three crest instances on one PostgreSQL behind Debian's nginx, configured
by the shipped deploy/nginx/crest.conf (rendered with this test's ports: its listen line and one
upstream server line per instance).

- The three instances start at the same moment on an empty database: the schema is created once
  (crest takes an advisory lock), all three come up.
- An item written through one instance is read, and its update seen, through the others.
- kill -9 of one instance in the middle of a write burst through nginx: every acknowledged write
  (201 with an id) is present afterwards, the other instances kept serving, and nginx moved the
  traffic to them.

Everything runs on 127.0.0.1 with free ports; nginx runs in the foreground (daemon off) as our
child and is stopped by pid, crest instances by start_crest.
"""

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

import pg
from conftest import Conn, free_port

REPO = Path(__file__).resolve().parents[2]
NGINX_CONF = REPO / "deploy" / "nginx" / "crest.conf"
ITEM = {"name": "shared", "price": 3.5, "tags": ["x"]}


def render_nginx_conf(listen_port, ports):
    """deploy/nginx/crest.conf with `listen 127.0.0.1:listen_port` and one upstream server line
    per port, each with the parameters of the shipped file's first server line."""
    text = NGINX_CONF.read_text()
    server = re.compile(r"^([ \t]*)server 127\.0\.0\.1:\d+([^;\n]*);\n", re.M)
    first = server.search(text)
    assert first, "no `server 127.0.0.1:PORT ...;` line in deploy/nginx/crest.conf"
    indent, params = first.group(1), first.group(2)
    lines = "".join(f"{indent}server 127.0.0.1:{p}{params};\n" for p in ports)
    text = server.sub("", text)
    text = text[:first.start()] + lines + text[first.start():]
    text, n = re.subn(r"^([ \t]*)listen \d+;", rf"\g<1>listen 127.0.0.1:{listen_port};", text,
                      flags=re.M)
    assert n == 1, "deploy/nginx/crest.conf should have one `listen PORT;` line"
    return text


class Nginx:
    """nginx -p DIR -c DIR/nginx.conf in the foreground; stop() by pid."""

    def __init__(self, tmp, upstream_ports):
        self.dir = tmp / "nginx"
        self.dir.mkdir()
        self.port = free_port()
        (self.dir / "crest.conf").write_text(render_nginx_conf(self.port, upstream_ports))
        user = "user nobody nogroup;\n" if os.geteuid() == 0 else ""
        d = self.dir
        (d / "nginx.conf").write_text(
            f"{user}daemon off;\nmaster_process on;\nworker_processes 1;\n"
            f"pid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n    access_log off;\n"
            f"    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n"
            f"    fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n"
            f"    scgi_temp_path {d}/scgi;\n"
            f"    include {d}/crest.conf;\n}}\n")
        self.argv = [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(d), "-c",
                     str(d / "nginx.conf"), "-e", str(d / "error.log")]
        self.proc = None

    def check(self):
        r = subprocess.run(self.argv + ["-t"], capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, f"nginx -t: {r.stderr}"

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"nginx exited {self.proc.returncode}: {self.error_log()}")
            try:
                if pg.call(self.port, "GET", "/healthz", timeout=2).status == 200:
                    return
            except (OSError, AssertionError):
                pass
            time.sleep(0.05)
        pytest.fail(f"nginx did not answer on {self.port}: {self.error_log()}")

    def error_log(self):
        try:
            return (self.dir / "error.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        workers = children(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)  # fast shutdown; its workers exit with it
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        for pid in workers:  # only ever the children of our own master
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


@pytest.fixture
def nginx_bin():
    if not (shutil.which("nginx") or os.access("/usr/sbin/nginx", os.X_OK)):
        pytest.skip("nginx is not installed (apt-get install nginx-light)")


@pytest.fixture
def cluster(start_crest, pg_url):
    """Three crest instances (1, 2 and 1 workers) started together on one fresh database."""
    instances = [start_crest("--db", pg_url, workers=w, wait=False) for w in (1, 2, 1)]
    for srv in instances:
        assert srv.wait_ready(), f"crest did not start: {srv.stderr}"
    for srv in instances:
        pg.wait_store_up(srv)
    return instances


def test_render_keeps_the_shipped_upstream_parameters():
    text = render_nginx_conf(18080, [1, 2, 3])
    servers = re.findall(r"^\s*server 127\.0\.0\.1:(\d+)([^;]*);", text, re.M)
    assert [p for p, _ in servers] == ["1", "2", "3"]
    assert all("max_fails=" in params and "fail_timeout=" in params for _, params in servers)
    for directive in ("keepalive ", "proxy_http_version 1.1;", 'proxy_set_header Connection "";',
                      "proxy_next_upstream error timeout http_503;"):
        assert directive in text, directive
    directives = re.findall(r"^\s*proxy_next_upstream\s[^;]*;", text, re.M)
    assert directives and not any("non_idempotent" in d for d in directives), \
        "a POST must never be retried on a second instance"


def test_the_shipped_config_passes_nginx_t(nginx_bin, tmp_path):
    Nginx(tmp_path, [free_port() for _ in range(3)]).check()


def test_an_item_written_through_one_instance_is_read_through_the_others(cluster):
    for n, writer in enumerate(cluster):
        created = pg.call(writer.port, "POST", "/items", {**ITEM, "name": f"via{n}"})
        assert created.status == 201, created
        item = created.json()
        for reader in cluster:
            r = pg.call(reader.port, "GET", f"/items/{item['id']}")
            assert r.status == 200 and r.json() == item, (writer.port, reader.port, r)
        other = cluster[(n + 1) % len(cluster)]
        r = pg.call(other.port, "PATCH", f"/items/{item['id']}", {"price": 9.5})
        assert r.status == 200
        assert pg.call(writer.port, "GET", f"/items/{item['id']}").json()["price"] == 9.5
    listed = [pg.call(s.port, "GET", "/items").json() for s in cluster]
    assert listed[0] == listed[1] == listed[2] and len(listed[0]) == 3


def test_kill_9_of_one_instance_mid_burst_loses_no_acknowledged_write(cluster, nginx_bin,
                                                                       tmp_path):
    proxy = Nginx(tmp_path, [s.port for s in cluster])
    proxy.check()
    proxy.start()
    victim, survivors = cluster[0], cluster[1:]
    probes, stop_probes = [], threading.Event()

    def probe():  # the survivors answer directly all along
        while not stop_probes.is_set():
            for s in survivors:
                try:
                    probes.append(pg.call(s.port, "GET", "/healthz", timeout=3).status)
                except (OSError, AssertionError) as e:
                    probes.append(repr(e))
            time.sleep(0.05)

    prober = threading.Thread(target=probe, daemon=True)
    try:
        prober.start()
        with pg.Load(proxy.port, [], clients=6, timeout=8.0, prefix="burst") as load:
            time.sleep(1.0)
            victim.proc.send_signal(signal.SIGKILL)  # by pid, writes in flight
            killed = time.monotonic()
            victim.proc.wait(5)
            victim.started = False  # killed on purpose: no clean exit expected
            time.sleep(1.5)
        stop_probes.set()
        prober.join(10)
        after = [pg.call(proxy.port, "POST", "/items", ITEM).status for _ in range(10)]
    finally:
        stop_probes.set()
        proxy.stop()

    assert load.failures == [], f"nginx left requests unanswered: {load.failures[:5]}"
    statuses = load.statuses()
    # 502: a POST in flight on the killed instance (nginx does not retry a POST once sent)
    assert set(statuses) <= {201, 502}, sorted(set(statuses))
    late = load.statuses(since=killed + 0.5)
    assert len(late) >= 20 and late.count(201) >= 0.9 * len(late), (
        f"after the kill: {late.count(201)} of {len(late)} writes acknowledged")
    assert after == [201] * 10
    assert probes and all(p == 200 for p in probes), [p for p in probes if p != 200][:5]

    acked = load.acknowledged()
    assert len(acked) > 50, f"the burst acknowledged only {len(acked)} writes"
    ids = [i for i, _ in acked]
    assert len(set(ids)) == len(ids), "an id was acknowledged twice"
    for s in survivors:
        with Conn(s.port) as c:
            for item_id, name in acked:
                r = c.request(pg.item_request("GET", f"/items/{item_id}"))
                assert r.status == 200 and r.json()["name"] == name, (s.port, item_id, r)
