"""The crest command line: help, version, flag and environment validation, the startup report,
and refusing a port that is already taken."""

import re
import socket
import time

import pytest

from conftest import REPO, free_port, run_crest

OPTIONS = (
    "--host",
    "--port",
    "--workers",
    "--db",
    "--timeout-keep-alive",
    "--timeout-header",
    "--timeout-body",
    "--timeout-graceful-shutdown",
    "--max-head-bytes",
    "--max-headers",
    "--max-body-bytes",
    "--quiet",
)


def project_version():
    m = re.search(r"project\(crest VERSION (\d+\.\d+\.\d+)", (REPO / "CMakeLists.txt").read_text())
    assert m, "CMakeLists.txt declares no project version"
    return m.group(1)


def one_line(text):
    lines = text.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].strip(), f"expected one line, got {text!r}"
    return lines[0]


def test_help_exits_0_and_lists_every_option(tmp_path):
    r = run_crest(["--help"], tmp_path)
    assert r.returncode == 0, r.stderr
    for opt in OPTIONS:
        assert opt in r.stdout, f"{opt} missing from --help"
    assert "serve" in r.stdout


def test_serve_help_exits_0(tmp_path):
    r = run_crest(["serve", "--help"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "--port" in r.stdout


def test_version_prints_name_and_project_version(tmp_path):
    r = run_crest(["--version"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert one_line(r.stdout) == f"crest {project_version()}"


def test_unknown_flag_exits_2_with_one_line_naming_it(tmp_path):
    r = run_crest(["serve", "--bogus-flag", "1"], tmp_path)
    assert r.returncode == 2
    assert "--bogus-flag" in one_line(r.stderr)
    assert r.stdout == ""


def test_missing_value_exits_2_naming_the_flag(tmp_path):
    r = run_crest(["serve", "--host", "127.0.0.1", "--port"], tmp_path)
    assert r.returncode == 2
    assert "--port" in one_line(r.stderr)


@pytest.mark.parametrize(
    "flag,value",
    [
        ("--port", "0"),
        ("--port", "70000"),
        ("--port", "abc"),
        ("--port", "-1"),
        ("--workers", "0"),
        ("--workers", "two"),
        ("--timeout-keep-alive", "-1"),
        ("--timeout-keep-alive", "abc"),
        ("--timeout-header", "1m"),
        ("--timeout-header", "0s"),
        ("--log-memory", "1ss"),
        ("--max-body-bytes", "5X"),
        ("--max-head-bytes", "-4K"),
        ("--max-headers", "0"),
    ],
)
def test_bad_value_exits_2_naming_the_flag(tmp_path, flag, value):
    args = ["serve", "--host", "127.0.0.1"]
    if flag != "--port":
        args += ["--port", str(free_port())]
    r = run_crest(args + [flag, value], tmp_path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert flag in one_line(r.stderr)
    assert "Application startup complete." not in r.stdout


def test_bad_value_in_flag_equals_form_exits_2(tmp_path):
    r = run_crest(["serve", "--port=abc"], tmp_path)
    assert r.returncode == 2
    assert "--port" in one_line(r.stderr)


@pytest.mark.parametrize(
    "name,value", [("PORT", "abc"), ("PORT", "0"), ("CREST_WORKERS", "0"), ("CREST_WORKERS", "x")]
)
def test_bad_env_value_exits_2_naming_the_variable(tmp_path, name, value):
    env = {"HOST": "127.0.0.1", "PORT": str(free_port()), name: value}
    r = run_crest(["serve", "--db", str(tmp_path / "crest.db")], tmp_path, env=env)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert name in one_line(r.stderr)


def running_line(srv):
    lines = [line for line in srv.stdout if line.startswith("crest running on ")]
    assert len(lines) == 1, srv.stdout
    return lines[0]


def test_env_host_port_and_workers_are_honoured(start_crest):
    port = free_port()
    env = {"HOST": "127.0.0.1", "PORT": str(port), "CREST_WORKERS": "3"}
    srv = start_crest(env=env, port=port, listen_flags=False, workers=None)
    assert running_line(srv) == f"crest running on http://127.0.0.1:{port} (3 workers)"
    r = srv.get("/healthz")
    assert r.status == 200 and r.json() == {"status": "ok"}


def test_flags_win_over_env(start_crest):
    env_port, flag_port = free_port(), free_port()
    env = {"HOST": "0.0.0.0", "PORT": str(env_port), "CREST_WORKERS": "3"}
    srv = start_crest(
        "--host", "127.0.0.1", "--port", str(flag_port), "--workers", "1",
        env=env, port=flag_port, listen_flags=False, workers=None,
    )  # fmt: skip
    assert running_line(srv) == f"crest running on http://127.0.0.1:{flag_port} (1 worker)"
    assert srv.get("/healthz").status == 200
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", env_port), timeout=1).close()


MEMORY_LINE = r"\[startup\] Memory RSS = \d+\.\d\d MB \({}\)"


def test_startup_report_lines_in_order(start_crest):
    srv = start_crest(workers=2)
    expected = [
        MEMORY_LINE.format(r"process start"),
        MEMORY_LINE.format(r"configuration ready"),
        MEMORY_LINE.format(r"listening"),
        re.escape(f"crest running on http://127.0.0.1:{srv.port} (2 workers)"),
        re.escape("Application startup complete."),
    ]
    at = -1
    for pattern in expected:
        found = [i for i, line in enumerate(srv.stdout) if re.fullmatch(pattern, line)]
        assert len(found) == 1, f"{pattern!r} in {srv.stdout}"
        assert found[0] > at, f"{pattern!r} out of order in {srv.stdout}"
        at = found[0]
    for line in srv.stdout:
        if line.startswith("[startup]"):
            assert re.fullmatch(r"\[startup\] Memory RSS = \d+\.\d\d MB \([a-z ]+\)", line), line


def test_running_line_names_the_worker_count(start_crest):
    srv = start_crest(workers=4)
    assert running_line(srv).endswith("(4 workers)")


def test_quiet_prints_no_startup_report(start_crest):
    srv = start_crest("--quiet", wait=False)
    deadline = time.monotonic() + 10
    while True:
        try:
            r = srv.get("/healthz")
            break
        except OSError:
            assert srv.proc.poll() is None, srv.stderr
            assert time.monotonic() < deadline, "crest --quiet never answered"
            time.sleep(0.05)
    assert r.status == 200
    assert srv.stop() == 0
    assert srv.stdout == []


def test_port_in_use_exits_1_with_a_message(start_crest, tmp_path):
    first = start_crest()
    r = run_crest(
        ["serve", "--host", "127.0.0.1", "--port", str(first.port), "--workers", "1",
         "--db", str(tmp_path / "second.db")],
        tmp_path,
    )  # fmt: skip
    assert r.returncode == 1, (r.stdout, r.stderr)
    message = one_line(r.stderr)
    assert "in use" in message.lower(), message
    assert "Application startup complete." not in r.stdout
    assert first.get("/healthz").status == 200  # the first server is untouched
