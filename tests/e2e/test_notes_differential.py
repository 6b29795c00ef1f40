"""examples/notes against its FastAPI twin (issue 17): one scripted sequence of notes requests from
two users, sent to both, answers compared as tests/e2e/test_items_differential.py compares the
items API (whose server helpers this file uses).

Both start on free 127.0.0.1 ports in the test's temporary directory, each on a fresh SQLite
file: build/examples/notes and bench/peers/notes_fastapi.py on Debian's python3-fastapi (0.92,
pydantic v1, python3-email-validator) run by /usr/bin/python3. Each user's API key is the one
each server gave it at sign-up, so the same step carries a different key to each.

Per request: the same status; for 2xx and plain errors the same parsed JSON (an api_key compares
as "32 hexadecimal digits" on both); for 422 the same set of locs (pydantic v1 words messages
differently); for the CORS preflight the same Access-Control-Allow-Origin. Known differences,
asserted as such:
- No Authorization header: FastAPI 0.92's HTTPBearer answers 403 {"detail": "Not
  authenticated"}; FastAPI moved to 401 since (PR #13786), which crest answers.
- PATCH {"title": null}: pydantic v1 makes a field with a None default Optional, so the twin
  takes it (and COALESCE keeps the title: 200); crest's NotePatch does not take null: 422.
"""

import http.client
import json
import re

import pytest

from pathlib import Path

from test_items_differential import CREST_BIN, Proc, REPO, SYSTEM_PYTHON, fastapi_missing
from test_items_differential import first_difference, free_port, locs, parse

NOTES_BIN = Path(CREST_BIN).parent / "examples" / "notes"  # the build CREST_BIN is from (ASan)
PEER = REPO / "bench" / "peers" / "notes_fastapi.py"
IO_TIMEOUT = 5.0
NO_KEY = (401, 403)  # (crest, fastapi 0.92) without credentials


class Step:
    """One request: as user (None, "ann", "bob", or "bad" for an unknown key), with a JSON body
    or none; known=(crest status, peer status) for a known difference."""

    def __init__(self, method, path, body=None, user="ann", known=None, headers=None):
        self.method, self.path, self.body, self.user = method, path, body, user
        self.known, self.headers = known, headers or {}

    def __str__(self):
        return f"{self.user or '-'}: {self.method} {self.path} {json.dumps(self.body)[:120]}"


NOTE = {"title": "  first  ", "body": "b" * 10, "done": False}


def sequence():
    return [
        # ---- sign-up ----
        Step("POST", "/users", {"email": "ann@example.com", "name": " Ann "}, user=None),
        Step("POST", "/users", {"email": "bob@example.org", "name": "Bob"}, user=None),
        Step("POST", "/users", {"email": "ann@example.com", "name": "Again"}, user=None),
        # the domain is lower-cased (pydantic's normalized address), the local part kept
        Step("POST", "/users", {"email": "Cid@Example.COM", "name": "Cid"}, user=None),
        Step("POST", "/users", {"email": "ann@EXAMPLE.com", "name": "Ann again"}, user=None),
        Step("POST", "/users", {"email": "not-an-email", "name": "X"}, user=None),
        Step("POST", "/users", {"email": "x@", "name": ""}, user=None),
        Step("POST", "/users", {"email": "@example.com", "name": "n" * 51}, user=None),
        Step("POST", "/users", {"name": "no email"}, user=None),
        Step("POST", "/users", {"email": 5, "name": ["x"]}, user=None),
        # ---- who am I ----
        Step("GET", "/users/me"),
        Step("GET", "/users/me", user="bob"),
        Step("GET", "/users/me", user="cid"),
        Step("GET", "/users/me", user="bad"),
        Step("GET", "/users/me", user=None, known=NO_KEY),
        # ---- notes: create ----
        Step("POST", "/notes", NOTE),
        Step("POST", "/notes", {"title": "second", "done": True}),
        Step("POST", "/notes", {"title": "third"}),
        Step("POST", "/notes", {"title": "bob's"}, user="bob"),
        Step("POST", "/notes", {"title": "   "}),
        Step("POST", "/notes", {"title": "t" * 201}),
        Step("POST", "/notes", {"title": "ok", "body": "b" * 10001}),
        Step("POST", "/notes", {"title": "ok", "color": "red"}),
        Step("POST", "/notes", {"done": "maybe"}),
        Step("POST", "/notes", {"title": "x"}, user="bad"),
        Step("POST", "/notes", {"title": "x"}, user=None, known=NO_KEY),
        # ---- notes from an HTML form: the same model, urlencoded ----
        Step("POST", "/notes/form", "title=%20from+a+form%20&body=caf%C3%A9&done=true"),
        Step("POST", "/notes/form", "title=plain"),
        Step("POST", "/notes/form", "title=&done=maybe"),
        Step("POST", "/notes/form", "body=" + "b" * 10001),
        Step("POST", "/notes/form", "title=x", user=None, known=NO_KEY),
        # ---- list, pages ----
        Step("GET", "/notes"),
        Step("GET", "/notes?offset=1&limit=1"),
        Step("GET", "/notes?offset=5"),
        Step("GET", "/notes?limit=100"),
        Step("GET", "/notes?limit=0"),
        Step("GET", "/notes?limit=101"),
        Step("GET", "/notes?offset=-1&limit=abc"),
        Step("GET", "/notes", user="bob"),
        # ---- read ----
        Step("GET", "/notes/1"),
        Step("GET", "/notes/4"),
        Step("GET", "/notes/4", user="bob"),
        Step("GET", "/notes/1", user="bob"),
        Step("GET", "/notes/999"),
        Step("GET", "/notes/0"),
        Step("GET", "/notes/abc"),
        # ---- patch: only what was sent ----
        Step("PATCH", "/notes/1", {"done": True}),
        Step("PATCH", "/notes/1", {"title": " renamed "}),
        Step("PATCH", "/notes/1", {"body": ""}),
        Step("PATCH", "/notes/1", {}),
        Step("PATCH", "/notes/1", {"title": ""}),
        Step("PATCH", "/notes/1", {"title": None}, known=(422, 200)),
        Step("PATCH", "/notes/1", {"color": "red"}),
        Step("PATCH", "/notes/1", {"done": True}, user="bob"),
        Step("PATCH", "/notes/999", {"done": True}),
        Step("GET", "/notes/1"),
        # ---- delete ----
        Step("DELETE", "/notes/2", user="bob"),
        Step("DELETE", "/notes/2"),
        Step("DELETE", "/notes/2"),
        Step("GET", "/notes/2"),
        Step("GET", "/notes"),
        # ---- CORS ----
        Step("OPTIONS", "/notes/1", user=None, headers={
            "Origin": "http://localhost:3000", "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "authorization"}),
        Step("GET", "/notes", headers={"Origin": "http://localhost:3000"}),
        Step("GET", "/notes", headers={"Origin": "http://evil.example"}),
    ]


def request(port, step, key):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=IO_TIMEOUT)
    try:
        headers = dict(step.headers)
        payload = None
        if isinstance(step.body, str):  # a form
            payload = step.body.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif step.body is not None:
            payload = json.dumps(step.body).encode()
            headers["Content-Type"] = "application/json"
        if key:
            headers["Authorization"] = f"Bearer {key}"
        conn.request(step.method, step.path, body=payload, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Access-Control-Allow-Origin"), resp.read()
    finally:
        conn.close()


@pytest.fixture
def servers(tmp_path):
    reason = fastapi_missing()
    if reason:
        pytest.skip(reason)
    if not NOTES_BIN.exists():
        pytest.fail(f"{NOTES_BIN} is not built (make build)")
    started = []
    try:
        p = free_port()
        crest = Proc("notes", [str(NOTES_BIN), "--host", "127.0.0.1", "--port", str(p),
                               "--db", str(tmp_path / "crest.db"), "--workers", "1"], p, tmp_path)
        started.append(crest)
        p = free_port()
        peer = Proc("fastapi", [SYSTEM_PYTHON, str(PEER), "--host", "127.0.0.1", "--port", str(p),
                                "--db", str(tmp_path / "fastapi.db")], p, tmp_path)
        started.append(peer)
        crest.wait_ready()
        peer.wait_ready()
        yield crest, peer
    finally:
        for proc in started:
            proc.stop()


API_KEY = re.compile(r"^[0-9a-f]{32}$")


def normalized(body):
    """The parsed body with an api_key replaced by whether it looks like one."""
    doc = parse(body)
    if isinstance(doc, dict) and "api_key" in doc:
        doc["api_key"] = bool(API_KEY.match(str(doc["api_key"])))
    return doc


def compare(c, f):
    if c[0] != f[0]:
        return ["status differs"]
    if c[1] != f[1]:
        return ["Access-Control-Allow-Origin differs"]
    if c[0] == 422:
        return [] if locs(c[2]) == locs(f[2]) else ["422 locs differ"]
    if c[0] == 204 or c[0] == 200 and not c[2].startswith((b"{", b"[")):
        return []  # no body, or the preflight's plain text
    d = first_difference(normalized(c[2]), normalized(f[2]))
    return [f"JSON body differs at {d}"] if d else []


def test_notes_example_matches_fastapi(servers):
    crest, peer = servers
    keys = {"crest": {"bad": "0" * 32}, "fastapi": {"bad": "0" * 32}}
    findings = []
    for n, step in enumerate(sequence(), 1):
        c = request(crest.port, step, keys["crest"].get(step.user))
        f = request(peer.port, step, keys["fastapi"].get(step.user))
        if step.method == "POST" and step.path == "/users" and c[0] == f[0] == 201:
            name = step.body["email"].split("@")[0].lower()
            keys["crest"][name] = json.loads(c[2])["api_key"]
            keys["fastapi"][name] = json.loads(f[2])["api_key"]
        if step.known:
            problems = [] if (c[0], f[0]) == step.known else [
                f"known difference expected {step.known}, got ({c[0]}, {f[0]})"]
        else:
            problems = compare(c, f)
        for p in problems:
            findings.append(f"step {n} {step}: {p}\n  crest:   {c[0]} {c[2][:300]!r}\n"
                            f"  fastapi: {f[0]} {f[2][:300]!r}")
    assert not findings, "\n".join(findings)
