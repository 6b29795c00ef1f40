"""make install + pkg-config: an application built against the installed libcrest the way the
README says (cc hello.c $(pkg-config --cflags --libs crest)) compiles, links and serves."""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("CREST_BUILD", os.path.join(REPO, "build"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def installed(tmp_path):
    prefix = tmp_path / "prefix"
    subprocess.run(["cmake", "--install", BUILD, "--prefix", str(prefix)], check=True,
                   stdout=subprocess.DEVNULL)
    return prefix


def test_installed_files_are_library_header_and_pc(installed):
    assert (installed / "lib" / "libcrest.a").is_file()
    assert (installed / "include" / "crest.h").is_file()
    assert (installed / "lib" / "pkgconfig" / "crest.pc").is_file()


def test_only_crest_symbols_are_exported(installed):
    out = subprocess.run(["nm", "-g", "--defined-only", str(installed / "lib" / "libcrest.a")],
                         check=True, capture_output=True, text=True).stdout
    symbols = [line.split()[-1] for line in out.splitlines() if len(line.split()) == 3]
    assert symbols, "no exported symbols at all"
    assert [s for s in symbols if not s.startswith("crest_")] == []


def test_hello_example_builds_with_pkg_config_and_serves(installed, tmp_path):
    env = dict(os.environ, PKG_CONFIG_PATH=str(installed / "lib" / "pkgconfig"))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "crest"], env=env, check=True,
                           capture_output=True, text=True).stdout.split()
    exe = tmp_path / "hello"
    cc = shutil.which("cc") or "gcc"
    subprocess.run([cc, os.path.join(REPO, "examples", "hello.c"), *flags, "-o", str(exe)],
                   check=True)
    port = free_port()
    proc = subprocess.Popen([str(exe), str(port)], stdout=subprocess.PIPE, text=True)
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
