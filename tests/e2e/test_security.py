"""crest --api-key-file (issue 16): the items service's writes behind HTTP Bearer keys, on the real
binary over real sockets. Writes without a key, with a wrong one or a malformed Authorization get
401 with WWW-Authenticate: Bearer (before validation: a bad body without a key is 401, not 422);
two Authorization fields get 400; every key of the file works; reads stay open; the OpenAPI
document puts the scheme on the write operations only; a missing, empty or bad file fails start-up
with a sentence; CREST_API_KEY_FILE works as the flag does; hostile Authorization values (random
bytes, huge, control bytes) never crash the server nor come back in an answer."""
import base64
import http.client
import json
import os
import random
import socket

from conftest import free_port, run_crest

KEYS = ["k3y-one", "second.key_with~chars+/=", "third"]


def keyfile(tmp_path, text=None, name="keys.txt"):
    path = tmp_path / name
    path.write_text(text if text is not None else "\n".join(KEYS[:1]) + "\r\n\n  \n" +
                    "\n".join(KEYS[1:]) + "\n")
    return str(path)


def request(srv, method, path, headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    conn.request(method, path, body=body, headers=hdrs)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r, data


def raw(srv, head_lines, body=b""):
    """One request with head lines as given (repeated fields included); the status and answer."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        req = b"POST /items HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        req += b"".join(line + b"\r\n" for line in head_lines)
        req += b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        s.sendall(req)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]), data


ITEM = json.dumps({"name": "a", "price": 1.5})


def test_item_writes_need_a_key_and_reads_stay_open(start_crest, tmp_path):
    srv = start_crest("--api-key-file", keyfile(tmp_path))
    r, body = request(srv, "POST", "/items", body=ITEM)
    assert (r.status, json.loads(body)) == (401, {"detail": "Not authenticated"})
    assert r.getheader("WWW-Authenticate") == "Bearer"
    r, body = request(srv, "POST", "/items", {"Authorization": "Bearer nope"}, ITEM)
    assert (r.status, json.loads(body)) == (401, {"detail": "Invalid authentication credentials"})
    assert r.getheader("WWW-Authenticate") == "Bearer"
    ids = []
    for key in KEYS:
        r, body = request(srv, "POST", "/items", {"Authorization": "Bearer " + key}, ITEM)
        assert r.status == 201, body
        ids.append(json.loads(body)["id"])
    r, body = request(srv, "GET", "/items")
    assert r.status == 200 and len(json.loads(body)) == 3
    r, _ = request(srv, "GET", "/items/%d" % ids[0])
    assert r.status == 200
    for method, body in (("PUT", ITEM), ("PATCH", '{"price": 2}'), ("DELETE", None)):
        r, _ = request(srv, method, "/items/%d" % ids[0], body=body)
        assert r.status == 401 and r.getheader("WWW-Authenticate") == "Bearer", method
        r, _ = request(srv, method, "/items/%d" % ids[0], {"Authorization": "Bearer third"}, body)
        assert r.status in (200, 204), method


def test_authentication_comes_before_validation(start_crest, tmp_path):
    srv = start_crest("--api-key-file", keyfile(tmp_path))
    for body in ("{", '{"name": ""}', "[]"):
        r, _ = request(srv, "POST", "/items", body=body)
        assert r.status == 401, body
        r, _ = request(srv, "POST", "/items", {"Authorization": "Bearer " + KEYS[2]}, body)
        assert r.status == 422, body


def test_malformed_authorization_is_401_or_400(start_crest, tmp_path):
    srv = start_crest("--api-key-file", keyfile(tmp_path))
    basic = base64.b64encode(b"k3y-one:x").decode()
    cases = [
        ([b"Authorization: Bearer"], 401, "Not authenticated"),
        ([b"Authorization: Bearer "], 401, "Not authenticated"),
        ([b"Authorization: Basic " + basic.encode()], 401, "Invalid authentication credentials"),
        ([b"Authorization: Token k3y-one"], 401, "Invalid authentication credentials"),
        ([b"Authorization: Bearer k3y-one extra"], 401, "Invalid authentication credentials"),
        ([b"Authorization: Bearer k3y-one", b"Authorization: Bearer k3y-one"], 400,
         "Repeated Authorization header"),
        ([b"Authorization: Bearer k3y-one", b"authorization: Bearer other"], 400,
         "Repeated Authorization header"),
        ([b"Authorization: Bearer " + b"a" * 5000], 401, "Invalid authentication credentials"),
    ]
    for lines, status, detail in cases:
        got, data = raw(srv, lines, ITEM.encode())
        assert got == status, (lines[0][:60], data[:200])
        assert json.loads(data.split(b"\r\n\r\n", 1)[1]) == {"detail": detail}
    got, _ = raw(srv, [b"Authorization: bearer  k3y-one"], ITEM.encode())
    assert got == 201  # the scheme's case and the spaces after it do not matter (RFC 9110 11.1)


def test_hostile_authorization_values_never_crash_nor_echo(start_crest, tmp_path):
    srv = start_crest("--api-key-file", keyfile(tmp_path))
    rng = random.Random(16)
    for i in range(300):
        token = bytes(rng.choice(b"ABCabc012=+/ -._~\t\x01\x7f\xff\xc3\xa9:\"'<>")
                      for _ in range(rng.randint(0, 64)))
        scheme = rng.choice([b"Bearer ", b"Basic ", b"bearer", b"", b"Bearer  "])
        got, data = raw(srv, [b"Authorization: " + scheme + b"SECRET" + token], ITEM.encode())
        assert got in (400, 401), (scheme + token, data[:200])
        assert b"SECRET" not in data
    got, _ = raw(srv, [b"Authorization: Bearer " + KEYS[0].encode()], ITEM.encode())
    assert got == 201  # still serving


def test_openapi_shows_the_scheme_on_writes_only(start_crest, tmp_path):
    srv = start_crest("--api-key-file", keyfile(tmp_path))
    r, body = request(srv, "GET", "/openapi.json")
    doc = json.loads(body)
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            writes = path.startswith("/items") and method != "get"
            assert (op.get("security") == [{"HTTPBearer": []}]) == writes, (method, path)
            assert ("401" in op["responses"]) == writes, (method, path)


def test_without_the_flag_writes_are_open_and_no_scheme_is_documented(start_crest):
    srv = start_crest()
    r, _ = request(srv, "POST", "/items", body=ITEM)
    assert r.status == 201
    r, body = request(srv, "GET", "/openapi.json")
    assert "securitySchemes" not in json.loads(body)["components"]


def test_the_environment_variable_names_the_file(start_crest, tmp_path):
    srv = start_crest(env={"CREST_API_KEY_FILE": keyfile(tmp_path)})
    r, _ = request(srv, "POST", "/items", body=ITEM)
    assert r.status == 401
    r, _ = request(srv, "POST", "/items", {"Authorization": "Bearer third"}, ITEM)
    assert r.status == 201


def test_a_missing_empty_or_bad_key_file_fails_startup(tmp_path):
    cases = [(str(tmp_path / "absent"), "No such file or directory"),
             (keyfile(tmp_path, "\n  \n", "empty"), "no key in the file"),
             (keyfile(tmp_path, "good\nnot a token\n", "bad"), "line 2 is not a bearer token")]
    for path, why in cases:
        r = run_crest(["serve", "--host", "127.0.0.1", "--port", str(free_port()), "--db",
                       str(tmp_path / "c.db"), "--api-key-file", path], cwd=tmp_path)
        assert r.returncode == 1, r
        assert "--api-key-file" in r.stderr and why in r.stderr, r.stderr
    r = run_crest(["serve", "--api-key-file"], cwd=tmp_path)
    assert r.returncode == 2 and "--api-key-file" in r.stderr


def test_help_names_the_flag(tmp_path):
    r = run_crest(["--help"], cwd=tmp_path)
    assert "--api-key-file" in r.stdout and "CREST_API_KEY_FILE" in r.stdout
    assert os.path.exists(tmp_path)
