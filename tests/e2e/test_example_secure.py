"""examples/secure.c (issue 16): each of FastAPI's security schemes on real sockets, through an
application written only against crest.h. An API key in a header checked by a lookup that answers
later (allow, 403 for a read-only key, 401 for an unknown one, and 401 before the 422 of a bad
body), HTTP Bearer against a key list (the route answers text/plain), HTTP Basic with its realm
(credentials encoded by Python's base64, which checks crest's hand-written decoder: every split of
user and password, colons in the password, wrong ones refused), an API key in the query on every
route under a prefix, one in a cookie; header and cookie parameters validated (422 with loc
["header", ...]); and the OpenAPI document saying all of it."""
import base64
import http.client
import json
import os
import random
import subprocess

import pytest

from conftest import Server, clean_env, free_port

EXAMPLE = os.path.join(os.environ.get("CREST_BUILD", "build"), "examples", "secure")


@pytest.fixture
def secure(tmp_path):
    if not os.path.exists(EXAMPLE):
        pytest.fail(f"{EXAMPLE} is not built (make build builds the examples)")
    port = free_port()
    proc = subprocess.Popen([EXAMPLE, "--host", "127.0.0.1", "--port", str(port)], cwd=tmp_path,
                            env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    server = Server(proc, port, tmp_path)
    assert server.wait_ready(), f"the example did not start: {server.stderr}"
    yield server
    assert server.stop() == 0


def call(srv, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    conn.request(method, path, body=body, headers={"Content-Type": "application/json",
                                                   **(headers or {})})
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_api_key_header_checked_later(secure):
    note = json.dumps({"text": "hello"})
    status, h, body = call(secure, "POST", "/notes", {"X-API-Key": "writer-key"}, note)
    assert (status, json.loads(body)) == (201, {"id": 0, "by": "wanda"})
    status, _, body = call(secure, "POST", "/notes", {"X-API-Key": "writer-key"}, note)
    assert (status, json.loads(body)) == (409, {"detail": "A note with this text exists"})
    status, h, body = call(secure, "POST", "/notes", {"X-API-Key": "reader-key"}, note)
    assert (status, json.loads(body)) == (403, {"detail": "Not enough permissions"})
    status, h, body = call(secure, "POST", "/notes", {"X-API-Key": "nobody"}, note)
    assert status == 401 and h["www-authenticate"] == "APIKey"
    status, h, body = call(secure, "POST", "/notes", {}, "{bad json")
    assert (status, json.loads(body)) == (401, {"detail": "Not authenticated"})
    status, _, _ = call(secure, "POST", "/notes", {"X-API-Key": "writer-key"}, "{bad json")
    assert status == 422


def test_bearer_key_list_and_a_text_answer(secure):
    call(secure, "POST", "/notes", {"X-API-Key": "writer-key"}, json.dumps({"text": "t e x t"}))
    status, h, body = call(secure, "GET", "/notes/0/text", {"Authorization": "Bearer bearer-secret"})
    assert (status, body) == (200, b"t e x t") and h["content-type"].startswith("text/plain")
    status, h, _ = call(secure, "GET", "/notes/0/text", {"Authorization": "Bearer bearer-secreT"})
    assert status == 401 and h["www-authenticate"] == "Bearer"
    status, _, _ = call(secure, "GET", "/notes/7/text", {"Authorization": "Bearer bearer-secret"})
    assert status == 404


def test_basic_with_pythons_base64(secure):
    status, h, body = call(secure, "GET", "/me", basic("alice", "wonderland"))
    assert (status, json.loads(body)) == (200, {"user": "alice"})
    status, h, body = call(secure, "GET", "/me")
    assert status == 401 and h["www-authenticate"] == 'Basic realm="notes"'
    rng = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyz:é€ 0123456789"
    for _ in range(200):
        user = "".join(rng.choice(alphabet.replace(":", "")) for _ in range(rng.randint(0, 12)))
        password = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 20)))
        status, _, body = call(secure, "GET", "/me", basic(user, password))
        assert (status, json.loads(body)) == (401, {"detail": "Invalid authentication credentials"})
    # the same credential split differently must not pass: alice:wonderland is one split only
    for cut in range(1, len("alicewonderland")):
        text = "alicewonderland"
        status, _, _ = call(secure, "GET", "/me", basic(text[:cut], text[cut:]))
        assert status == (200 if cut == 5 else 401)


def test_query_key_on_a_prefix_and_cookie_key(secure):
    call(secure, "POST", "/notes", {"X-API-Key": "writer-key"}, json.dumps({"text": "a"}))
    status, h, body = call(secure, "GET", "/admin/export?api_key=admin-key")
    assert (status, body) == (200, b"a\0")
    assert h["content-type"] == "application/octet-stream"
    status, h, _ = call(secure, "GET", "/admin/export")
    assert status == 401 and h["www-authenticate"] == "APIKey"
    status, _, _ = call(secure, "GET", "/admin/nothing-here?api_key=admin-key")
    assert status == 404  # the prefix guards routes; an unknown path is still 404
    status, _, body = call(secure, "GET", "/session", {"Cookie": "theme=x; session=s3ss10n"})
    assert (status, json.loads(body)) == (200, {"session": "valid"})
    status, _, _ = call(secure, "GET", "/session", {"Cookie": "session=wrong"})
    assert status == 401


def test_header_and_cookie_parameters(secure):
    status, _, body = call(secure, "GET", "/notes", {"X-Client": "cli", "Cookie": "theme=dark"})
    assert (status, json.loads(body)) == (200, {"client": "cli", "theme": "dark", "notes": []})
    status, _, body = call(secure, "GET", "/notes")
    assert json.loads(body) == {"client": None, "theme": "light", "notes": []}
    status, _, body = call(secure, "GET", "/notes", {"X-Client": "x" * 21})
    assert status == 422
    assert json.loads(body)["detail"][0]["loc"] == ["header", "X-Client"]


def test_the_document_says_it_all(secure):
    status, _, body = call(secure, "GET", "/openapi.json")
    doc = json.loads(body)
    schemes = doc["components"]["securitySchemes"]
    assert schemes["APIKeyHeader"] == {"type": "apiKey", "in": "header", "name": "X-API-Key",
                                       "description": "writer-key writes"}
    assert schemes["HTTPBearer"] == {"type": "http", "scheme": "bearer"}
    assert schemes["HTTPBasic"] == {"type": "http", "scheme": "basic"}
    assert schemes["APIKeyQuery"] == {"type": "apiKey", "in": "query", "name": "api_key"}
    assert schemes["APIKeyCookie"] == {"type": "apiKey", "in": "cookie", "name": "session"}
    paths = doc["paths"]
    assert paths["/notes"]["post"]["security"] == [{"APIKeyHeader": []}]
    assert set(paths["/notes"]["post"]["responses"]) == {"201", "401", "403", "409", "422", "503"}
    assert "security" not in paths["/notes"]["get"]
    assert paths["/admin/export"]["get"]["security"] == [{"APIKeyQuery": []}]
    assert paths["/notes/{id}/text"]["get"]["responses"]["200"]["content"] == {
        "text/plain": {"schema": {"type": "string"}}}
    params = {p["name"]: p["in"] for p in paths["/notes"]["get"]["parameters"]}
    assert params == {"X-Client": "header", "theme": "cookie"}
