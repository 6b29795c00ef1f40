"""crest --cors-allow-origins (issue 16): CORS on the real binary. A preflight from an allowed
origin is answered by crest without reaching the items routes, a refused one names what is
refused, and crest's own 404 and 422 carry Access-Control-Allow-Origin so a browser page can read
them; other origins get no CORS header."""
import http.client


def request(crest, method, path, headers, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", crest.port, timeout=10)
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r, data


def test_preflight_and_errors_carry_cors_headers(start_crest):
    crest = start_crest("--cors-allow-origins", "https://a.example,https://b.example",
                        "--cors-allow-credentials")
    r, _ = request(crest, "OPTIONS", "/items", {
        "Origin": "https://b.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "Content-Type, Authorization"})
    assert r.status == 200
    assert r.getheader("Access-Control-Allow-Origin") == "https://b.example"
    assert r.getheader("Access-Control-Allow-Credentials") == "true"
    assert "POST" in r.getheader("Access-Control-Allow-Methods")
    assert r.getheader("Vary") == "Origin"
    r, body = request(crest, "OPTIONS", "/items", {
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert r.status == 400 and body == b"Disallowed CORS origin"
    for method, path, body, status in [("GET", "/nope", None, 404),
                                       ("POST", "/items", "{}", 422)]:
        r, _ = request(crest, method, path, {"Origin": "https://a.example",
                                             "Content-Type": "application/json"}, body)
        assert r.status == status
        assert r.getheader("Access-Control-Allow-Origin") == "https://a.example"
    r, _ = request(crest, "GET", "/json", {"Origin": "https://evil.example"})
    assert r.status == 200 and r.getheader("Access-Control-Allow-Origin") is None
