"""The examples' command lines, read by crest_config_args (include/crest.h): each example answers
--help with the engine's flags and its own (exit 0), refuses an unknown flag or a bad value of its
own flags with one line "<example>: <why>" on stderr (exit 2) before serving anything, and takes
the engine's flags it did not parse by hand before (hello: "--port=N" and the HOST and
CREST_WORKERS environment variables; middleware: a leading "serve", as the crest binary)."""
import os
import subprocess
import time

import pytest

from conftest import Server, clean_env, free_port, get

BUILD = os.environ.get("CREST_BUILD", "build")

# example: (its own flags, as tests and benches pass them; a bad value for one of them)
EXAMPLES = {
    "hello": ([], None),
    "notes": (["--db", "--docs-dir"], None),
    "middleware": (["--trust-proxies", "--request-id", "--rate-limit", "--cors", "--gzip",
                    "--bearer", "--noop-hook"], ["--rate-limit", "fast"]),
    "realtime": (["--root", "--tick-ms", "--heartbeat-ms", "--upload-limit", "--ws-ping-ms",
                  "--ws-idle-ms"], ["--ws-idle-ms", "-1"]),
    "secure": ([], ["--workers", "2"]),
    "tfb": (["--db", "--pool"], ["--pool", "0"]),
    "upstream": (["--upstream"], ["--upstream", "localhost"]),
}
ENGINE = ["--host", "--port", "--workers", "--memory-limit", "--timeout-body", "--access-log"]


def run(name, *args, env=None, cwd=None):
    path = os.path.join(BUILD, "examples", name)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is not built (make build builds the examples)")
    # an example that started serving instead of exiting is killed by the timeout, and fails
    return subprocess.run([path, *args], env=clean_env(env), cwd=cwd, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=10)


def test_help_shows_the_defaults_the_application_set(tmp_path):
    """notes listens on 127.0.0.1:8000 unless told otherwise: its --help says so, not 0.0.0.0."""
    lines = {line.split()[0]: line for line in run("notes", "--help", cwd=tmp_path).stdout
             .splitlines() if line.startswith("  --")}
    assert "(default 127.0.0.1)" in lines["--host"], lines["--host"]
    assert "(default 8000)" in lines["--port"], lines["--port"]
    assert "(default 1M)" in lines["--max-body-bytes"] and "(default none)" in lines["--memory-limit"]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_help_lists_the_engine_flags_and_the_examples_own(name, tmp_path):
    r = run(name, "--help", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("usage: ") and r.stderr == ""
    listed = {line.split()[0] for line in r.stdout.splitlines() if line.startswith("  --")}
    assert set(ENGINE) <= listed
    assert set(EXAMPLES[name][0]) <= listed


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_a_bad_command_line_is_one_line_and_exit_2(name, tmp_path):
    r = run(name, "--port", str(free_port()), "--no-such-flag", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"{name}: unknown option '--no-such-flag' (see --help)\n"
    r = run(name, "--port", "70000", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (2, f"{name}: invalid value for --port: '70000'\n")
    bad = EXAMPLES[name][1]
    if bad:
        r = run(name, "--port", str(free_port()), *bad, cwd=tmp_path)
        assert r.returncode == 2 and r.stdout == "", r.stderr
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"{name}: ") and bad[0] in lines[0], lines


def test_hello_takes_the_engine_flags_and_environment(tmp_path):
    """hello parsed only a bare port before; now --port=N, HOST and CREST_WORKERS reach it."""
    port = free_port()
    proc = subprocess.Popen([os.path.join(BUILD, "examples", "hello"), f"--port={port}"],
                            env=clean_env({"HOST": "127.0.0.1", "CREST_WORKERS": "2"}),
                            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    srv = Server(proc, port, tmp_path)
    try:
        assert srv.wait_ready(), srv.stderr
        assert any("(2 workers)" in line for line in srv.stdout), srv.stdout
        r = srv.request(get("/hello/7"))
        assert r.status == 200 and r.json() == {"id": 7, "message": "Hello, 7!"}
    finally:
        assert srv.stop() == 0, srv.stderr


def test_middleware_takes_serve_first_as_the_crest_binary(tmp_path):
    """bench/accounting.py starts the example as it starts the crest binary: `NAME serve ...`."""
    port = free_port()
    proc = subprocess.Popen([os.path.join(BUILD, "examples", "middleware"), "serve", "--host",
                             "127.0.0.1", "--port", str(port), "--workers", "1", "--access-log",
                             "--gzip", "100"],
                            env=clean_env(), cwd=tmp_path, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    srv = Server(proc, port, tmp_path)
    try:
        deadline = time.monotonic() + 10
        while True:  # quiet by default: no ready line, so poll until it answers
            try:
                r = srv.request(get("/catalog", extra="Accept-Encoding: gzip\r\n"))
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, srv.stderr
                time.sleep(0.05)
        assert r.status == 200 and r.header("Content-Encoding") == "gzip"
    finally:
        assert srv.stop() == 0, srv.stderr
    assert any(line.startswith("[access] ") and " GET /catalog 200 " in line
               for line in srv.stdout), srv.stdout
