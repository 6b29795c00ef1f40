"""make install + pkg-config: an application built against the installed libcrest the way the
README says (cc hello.c $(pkg-config --cflags --libs crest)) compiles, links and serves; one that
also uses the system's SQLite gets that SQLite, not crest's private one; and the installed docs
assets serve /docs by default (issue 13)."""
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
DOCS_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png",
              "redoc.standalone.js")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def get(url):
    status, body = fetch(url)
    return status, json.loads(body)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """`make install PREFIX=...` as the README says, from a build tree of its own: an installed
    libcrest names PREFIX/share/crest/docs as its docs directory, so it must be built for the
    prefix it is installed in (a few seconds: the dependencies are prebuilt in build/deps)."""
    root = tmp_path_factory.mktemp("install")
    prefix = root / "prefix"
    # a parent make's jobserver is not ours to use
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    subprocess.run(["make", "--no-print-directory", "install", f"PREFIX={prefix}",
                    f"BUILD={root / 'build'}",
                    "CMAKE_FLAGS=-DCMAKE_BUILD_TYPE=Release -DCREST_TESTS=OFF"],
                   cwd=REPO, env=env, check=True, stdout=subprocess.DEVNULL)
    return prefix


def pkg_config(installed, *args):
    env = dict(os.environ, PKG_CONFIG_PATH=str(installed / "lib" / "pkgconfig"))
    return subprocess.run(["pkg-config", *args, "crest"], env=env, check=True,
                          capture_output=True, text=True).stdout.split()


def build_app(installed, tmp_path, source, *extra):
    exe = tmp_path / os.path.splitext(os.path.basename(source))[0]
    cc = shutil.which("cc") or "gcc"
    subprocess.run([cc, source, *pkg_config(installed, "--cflags", "--libs"), *extra, "-o",
                    str(exe)], check=True)
    return exe


def test_installed_files_are_library_header_pc_binary_and_docs(installed):
    files = sorted(str(p.relative_to(installed)) for p in installed.rglob("*") if p.is_file())
    assert files == sorted(["bin/crest", "include/crest.h", "lib/libcrest.a",
                            "lib/pkgconfig/crest.pc", "lib/crest/crest-hot.ld",
                            *(f"share/crest/docs/{name}" for name in DOCS_FILES)])


def test_only_crest_symbols_are_exported(installed):
    out = subprocess.run(["nm", "-g", "--defined-only", str(installed / "lib" / "libcrest.a")],
                         check=True, capture_output=True, text=True).stdout
    symbols = [line.split()[-1] for line in out.splitlines() if len(line.split()) == 3]
    assert symbols, "no exported symbols at all"
    assert [s for s in symbols if not s.startswith("crest_")] == []
    assert [s for s in symbols if s.startswith("crest_pq_")] == []  # libpq's allocator: internal


def test_sqlite_and_libpq_are_inside_libcrest_and_private(installed):
    def nm(*flags):
        out = subprocess.run(["nm", *flags, str(installed / "lib" / "libcrest.a")], check=True,
                             capture_output=True, text=True).stdout
        return [line.split() for line in out.splitlines() if line.strip()]

    local = {f[2] for f in nm() if len(f) == 3 and f[1] in "tdbr"}
    undefined = {f[1] for f in nm("-u") if len(f) == 2}  # "U name", "w name"
    # what crest calls in them is there, and local: the application cannot reach it
    assert {"sqlite3_open_v2", "sqlite3_step", "PQconnectStart", "PQsendQueryPrepared",
            "pg_b64_encode", "crest_pq_malloc"} <= local
    # nothing is left for the application's link to take from another SQLite or libpq
    assert [s for s in undefined if re.match(r"sqlite3|PQ|pq|pg_|crest_", s)] == []


def test_pkg_config_links_libcrest_alone(installed):
    libs = pkg_config(installed, "--libs")
    assert "-lcrest" in libs
    assert [f for f in libs if f in ("-lsqlite3", "-lpq", "-lpgcommon", "-lpgport")] == []
    # no other archive: lib/crest holds the layout script alone
    assert sorted(p.name for p in (installed / "lib" / "crest").iterdir()) == ["crest-hot.ld"]
    docsdir = pkg_config(installed, "--variable=docsdir")
    assert os.path.realpath(docsdir[0]) == str(installed / "share" / "crest" / "docs")


def test_hello_example_builds_with_pkg_config_and_serves(installed, tmp_path):
    exe = build_app(installed, tmp_path, os.path.join(REPO, "examples", "hello.c"))
    port = free_port()
    proc = subprocess.Popen([str(exe), "--port", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        for line in proc.stdout:
            if "Application startup complete." in line or time.time() > deadline:
                break
        assert get(f"http://127.0.0.1:{port}/hello/42") == (
            200, {"id": 42, "message": "Hello, 42!"})
        status, body = get(f"http://127.0.0.1:{port}/hello/abc")
        assert status == 422
        assert body["detail"][0]["loc"] == ["path", "id"]
        assert body["detail"][0]["type"] == "int_parsing"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


def test_static_app_gets_the_hot_code_first(installed, tmp_path):
    """The layout of docs/dependencies.md ("The code a server runs is laid out together") in an
    application linked statically the way crest.pc says: every crest_ function that
    tools/hot-text.py found running sits below every one it did not (the prelinked object's
    renamed sections, with no option on the application's side), and hot_ld put the listed libc
    members in .text.crest_hot, ahead of .text."""
    hot_ld = pkg_config(installed, "--variable=hot_ld")[0]
    exe = build_app(installed, tmp_path, os.path.join(REPO, "examples", "hello.c"), "-static",
                    "-Wl,-T," + hot_ld)
    listed = set()
    with open(os.path.join(REPO, "tools", "hot-text.txt")) as f:
        for line in f:
            m = re.match(r"^section \.text\.(crest_\w+)$", line.strip())
            if m:
                listed.add(m.group(1))
    out = subprocess.run(["nm", str(exe)], check=True, capture_output=True, text=True).stdout
    funcs = {p[2]: int(p[0], 16) for p in (line.split() for line in out.splitlines())
             if len(p) == 3 and p[1] in "Tt" and p[2].startswith("crest_")}
    hot = [a for name, a in funcs.items() if name in listed]
    cold = [a for name, a in funcs.items() if name not in listed]
    assert len(hot) > 20 and cold, (len(hot), len(cold))
    assert max(hot) < min(cold)
    sections = subprocess.run(["readelf", "-SW", str(exe)], check=True, capture_output=True,
                              text=True).stdout
    starts = {m.group(1): int(m.group(2), 16) for m in re.finditer(
        r"\]\s+(\.text(?:\.crest_hot)?)\s+PROGBITS\s+([0-9a-f]+)", sections)}
    assert starts[".text.crest_hot"] < starts[".text"], sections
    assert min(hot) > starts[".text"]


def system_sqlite():
    """What the system's SQLite answers, through Python's sqlite3 module, which links it: its
    version, sqlite3_threadsafe() (from DB-API's threadsafety, Python 3.11's mapping) and
    json('{"a": 1}')."""
    with sqlite3.connect(":memory:") as db:
        text = db.execute("""SELECT json('{"a": 1}')""").fetchone()[0]
    mode = {0: 0, 3: 1, 1: 2}[sqlite3.threadsafety]
    return f"sqlite {sqlite3.sqlite_version} threadsafe={mode} json={text}"


def test_app_with_its_own_sqlite_gets_the_system_one_and_installed_docs(installed, tmp_path):
    """issue 13: crest.pc put crest's reduced static SQLite (no JSON functions, threadsafe 2) on
    the link line ahead of the application's -lsqlite3, and make install left the docs assets
    behind, so /docs had nothing to serve."""
    exe = build_app(installed, tmp_path, os.path.join(HERE, "install_app.c"), "-lsqlite3")
    port = free_port()
    proc = subprocess.Popen([str(exe), str(port)], stdout=subprocess.PIPE, text=True)
    try:
        lines = []
        deadline = time.time() + 10
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if "Application startup complete." in line or time.time() > deadline:
                break
        assert lines[0] == system_sqlite()
        docs = installed / "share" / "crest" / "docs"
        assert lines[1] == f"docs {docs}: ok"
        status, page = fetch(f"http://127.0.0.1:{port}/docs")
        assert status == 200
        bundle = re.search(rb'<script src="(/docs/swagger-ui-bundle\.js)"', page)
        assert bundle, page[:300]
        status, body = fetch(f"http://127.0.0.1:{port}{bundle.group(1).decode()}")
        assert status == 200
        assert body == (docs / "swagger-ui-bundle.js").read_bytes()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0


def test_installed_crest_serves_the_installed_docs_once_its_build_is_gone(installed, tmp_path):
    shutil.rmtree(installed.parent / "build" / "docs-assets")  # the build's, its first choice
    port = free_port()
    proc = subprocess.Popen([str(installed / "bin" / "crest"), "serve", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1", "--db",
                             str(tmp_path / "crest.db")], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        for line in proc.stdout:
            if "Application startup complete." in line or time.time() > deadline:
                break
        status, body = fetch(f"http://127.0.0.1:{port}/docs/swagger-ui.css")
        assert status == 200
        assert body == (installed / "share" / "crest" / "docs" / "swagger-ui.css").read_bytes()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
