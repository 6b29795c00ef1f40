"""HTTP/1.1 over raw sockets: the built-in routes, connection management, pipelining, and every
request crest must refuse (RFC 9112 framing, RFC 9110 semantics)."""

import email.utils
import re
import socket
import threading
import time

import pytest

from conftest import get

JSON_BODY = b'{"message":"Hello, World!"}'
HEALTH_BODY = b'{"status":"ok"}'
IMF_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d\d:\d\d:\d\d GMT"
)


def assert_one(resp, name, value=None):
    values = resp.header_all(name)
    assert len(values) == 1, f"{name}: {values} in {resp!r}"
    if value is not None:
        assert values[0] == value, f"{name}: {values[0]!r} != {value!r}"
    return values[0]


def assert_closed(conn, timeout=3.0):
    closed, extra = conn.wait_closed(timeout)
    assert closed, "the server kept the connection open"
    assert extra == b"", f"bytes after the last response: {extra[:200]!r}"


def assert_error(resp, status):
    """An error crest answers itself: JSON {"detail": "..."} and Connection: close."""
    assert resp.status == status, resp
    assert (resp.header("Content-Type") or "").startswith("application/json"), resp
    detail = resp.json()["detail"]
    assert isinstance(detail, str) and detail, resp
    assert (resp.header("Connection") or "").lower() == "close", resp


# ---- routes ----


def test_get_json_exact_body_and_headers(crest):
    before = time.time()
    r = crest.get("/json")
    assert r.version == "HTTP/1.1"
    assert (r.status, r.reason) == (200, "OK")
    assert r.body == JSON_BODY
    assert_one(r, "Server", "crest")
    assert_one(r, "Content-Type", "application/json")
    assert_one(r, "Content-Length", str(len(JSON_BODY)))
    date = assert_one(r, "Date")
    assert IMF_FIXDATE.fullmatch(date), date
    stamp = email.utils.parsedate_to_datetime(date).timestamp()
    assert before - 2 <= stamp <= time.time() + 2, date
    assert (r.header("Connection") or "keep-alive").lower() != "close"


def test_get_healthz(crest):
    r = crest.get("/healthz")
    assert r.status == 200
    assert r.body == HEALTH_BODY
    assert_one(r, "Content-Type", "application/json")


def test_unknown_path_is_404_json(crest):
    r = crest.get("/nope")
    assert r.status == 404
    assert r.json() == {"detail": "Not Found"}
    assert_one(r, "Content-Type", "application/json")


def test_wrong_method_is_405_with_allow(crest):
    with crest.conn() as c:
        r = c.request(b"DELETE /json HTTP/1.1\r\nHost: x\r\n\r\n")
        assert r.status == 405
        assert r.json() == {"detail": "Method Not Allowed"}
        allow = {m.strip() for m in assert_one(r, "Allow").split(",")}
        assert {"GET", "HEAD"} <= allow and "DELETE" not in allow
        assert c.request(get("/json")).status == 200  # still usable


def test_unknown_method_is_501(crest):
    r = crest.request(b"FOO /json HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.status == 501
    assert isinstance(r.json()["detail"], str)


def test_head_json_has_headers_and_no_body_then_next_pipelined_request_parses(crest):
    with crest.conn() as c:
        c.send(b"HEAD /json HTTP/1.1\r\nHost: x\r\n\r\n" + get("/healthz"))
        head = c.read_response(head_only=True)
        assert head.status == 200
        assert_one(head, "Content-Length", "27")
        assert_one(head, "Content-Type", "application/json")
        nxt = c.read_response()  # a body after the HEAD answer would garble this
        assert nxt.status == 200 and nxt.body == HEALTH_BODY
        assert c.buf == b""


def test_options_asterisk_is_204(crest):
    r = crest.request(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.status == 204
    assert r.header("Content-Length") in (None, "0")


def test_options_route_is_204_with_allow(crest):
    with crest.conn() as c:
        r = c.request(b"OPTIONS /json HTTP/1.1\r\nHost: x\r\n\r\n")
        assert r.status == 204
        assert "GET" in assert_one(r, "Allow")
        assert c.request(get("/healthz")).body == HEALTH_BODY  # no stray body bytes


def test_absolute_form_target(crest):
    r = crest.request(b"GET http://x/json HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.status == 200 and r.body == JSON_BODY


def test_percent_encoded_path(crest):
    r = crest.get("/%6Ason")
    assert r.status == 200 and r.body == JSON_BODY


def test_query_string_does_not_change_the_route(crest):
    r = crest.get("/json?a=1&b=%20")
    assert r.status == 200 and r.body == JSON_BODY


# ---- connection management ----


def test_keep_alive_serves_100_requests_on_one_connection(crest):
    with crest.conn() as c:
        for i in range(100):
            r = c.request(get("/json" if i % 2 == 0 else "/healthz"))
            assert r.status == 200, i
            assert r.body == (JSON_BODY if i % 2 == 0 else HEALTH_BODY), i


def test_http10_without_keep_alive_closes_after_the_response(crest):
    with crest.conn() as c:
        r = c.request(b"GET /json HTTP/1.0\r\n\r\n")
        assert r.status == 200 and r.body == JSON_BODY
        assert (r.header("Connection") or "close").lower() == "close"
        assert_closed(c)


def test_http10_with_keep_alive_stays_open(crest):
    with crest.conn() as c:
        for _ in range(3):
            r = c.request(b"GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            assert r.status == 200 and r.body == JSON_BODY
            assert_one(r, "Connection", "keep-alive")


def test_connection_close_is_honoured(crest):
    with crest.conn() as c:
        r = c.request(get("/json", extra="Connection: close\r\n"))
        assert r.status == 200 and r.body == JSON_BODY
        assert_one(r, "Connection", "close")
        assert_closed(c)


def test_pipelined_requests_are_answered_in_order(crest):
    kinds = [
        (lambda i: get(f"/json?i={i}"), 200, JSON_BODY),
        (lambda i: get(f"/healthz?i={i}"), 200, HEALTH_BODY),
        (lambda i: get(f"/nope/{i}"), 404, b'{"detail":"Not Found"}'),
        (lambda i: f"DELETE /json?i={i} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), 405, None),
    ]
    plan = [kinds[i % len(kinds)] for i in range(50)]
    with crest.conn() as c:
        c.send(b"".join(make(i) for i, (make, _, _) in enumerate(plan)))
        for i, (_, status, body) in enumerate(plan):
            r = c.read_response()
            assert r.status == status, f"response {i}: {r!r}"
            if body is not None:
                assert r.body == body, f"response {i}: {r!r}"
        assert c.buf == b""
        assert c.reads <= 10, f"50 pipelined responses took {c.reads} reads"
        assert c.request(get("/json")).status == 200


def test_request_split_into_single_bytes(crest):
    with crest.conn() as c:
        for b in get("/json", extra="X-Slow: yes\r\n"):
            c.send(bytes([b]))
            time.sleep(0.003)
        r = c.read_response()
        assert r.status == 200 and r.body == JSON_BODY


def test_chunked_body_with_extensions_and_trailers_keeps_connection_usable(crest):
    body = (
        b"5;ext=1\r\nhello\r\n"
        b'6;a;b="q x"\r\n world\r\n'
        b"0\r\n"
        b"X-Trailer: yes\r\n"
        b"X-Other: 1\r\n"
        b"\r\n"
    )
    with crest.conn() as c:
        c.send(b"POST /json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        r = c.request(body)
        assert r.status == 405
        r = c.request(get("/json"))
        assert r.status == 200 and r.body == JSON_BODY


def test_content_length_body_keeps_connection_usable(crest):
    with crest.conn() as c:
        r = c.request(b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world")
        assert r.status == 405
        r = c.request(get("/healthz"))
        assert r.status == 200 and r.body == HEALTH_BODY


def test_expect_100_continue_gets_interim_response_before_body(crest):
    with crest.conn() as c:
        c.send(
            b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        interim = c.read_response(timeout=3)
        assert interim.head.split(b"\r\n")[0] == b"HTTP/1.1 100 Continue"
        c.send(b"hello")
        r = c.read_response()
        assert r.status == 405
        assert c.request(get("/json")).status == 200


# ---- requests crest refuses ----

H = b"Host: x\r\n"
REJECTIONS = {
    "content_length_and_transfer_encoding": (
        b"POST /json HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\n",
        400,
    ),
    "differing_content_lengths": (
        b"POST /json HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        400,
    ),
    "differing_content_length_list": (
        b"POST /json HTTP/1.1\r\n" + H + b"Content-Length: 5, 6\r\n\r\nhello!",
        400,
    ),
    "content_length_not_a_number": (
        b"POST /json HTTP/1.1\r\n" + H + b"Content-Length: 5x\r\n\r\nhello",
        400,
    ),
    "content_length_negative": (
        b"POST /json HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n",
        400,
    ),
    "transfer_encoding_gzip": (
        b"POST /json HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n",
        400,
    ),
    "transfer_encoding_chunked_not_last": (
        b"POST /json HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, gzip\r\n\r\n",
        400,
    ),
    "transfer_encoding_in_http10": (
        b"POST /json HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
    ),
    "whitespace_before_colon": (b"GET /json HTTP/1.1\r\n" + H + b"X-Foo : bar\r\n\r\n", 400),
    "obs_fold": (b"GET /json HTTP/1.1\r\n" + H + b"X-Foo: bar\r\n baz\r\n\r\n", 400),
    "bare_lf_in_headers": (b"GET /json HTTP/1.1\r\nHost: x\nX-Foo: bar\r\n\r\n", 400),
    "bare_lf_everywhere": (b"GET /json HTTP/1.1\nHost: x\n\n", 400),
    "bare_cr_in_value": (b"GET /json HTTP/1.1\r\n" + H + b"X-Foo: a\rb\r\n\r\n", 400),
    "missing_host": (b"GET /json HTTP/1.1\r\n\r\n", 400),
    "duplicate_host": (b"GET /json HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400),
    # issue 13: Host = uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2)
    "host_with_space": (b"GET /json HTTP/1.1\r\nHost: exa mple.com\r\n\r\n", 400),
    "host_with_slash": (b"GET /json HTTP/1.1\r\nHost: x/../admin\r\n\r\n", 400),
    "host_with_userinfo": (b"GET /json HTTP/1.1\r\nHost: user@x\r\n\r\n", 400),
    "host_with_bad_port": (b"GET /json HTTP/1.1\r\nHost: x:80a\r\n\r\n", 400),
    "host_with_two_ports": (b"GET /json HTTP/1.1\r\nHost: x:80:81\r\n\r\n", 400),
    "host_with_bare_ipv6": (b"GET /json HTTP/1.1\r\nHost: ::1\r\n\r\n", 400),
    "host_with_bad_ipv6_literal": (b"GET /json HTTP/1.1\r\nHost: [::1::2]\r\n\r\n", 400),
    "host_with_non_ascii": (b"GET /json HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n", 400),
    "host_with_quote": (b"GET /json HTTP/1.1\r\nHost: x\"y\r\n\r\n", 400),
    "host_with_angle_brackets": (b"GET /json HTTP/1.1\r\nHost: <script>\r\n\r\n", 400),
    "space_in_target": (b"GET /js on HTTP/1.1\r\n" + H + b"\r\n", 400),
    "malformed_version": (b"GET /json HTTP/1.x\r\n" + H + b"\r\n", 400),
    "http_2_0": (b"GET /json HTTP/2.0\r\n" + H + b"\r\n", 505),
    "http_0_9_style_version": (b"GET /json HTTP/0.9\r\n" + H + b"\r\n", 505),
    "transfer_coding_before_chunked": (
        b"POST /json HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        501,
    ),
    "unknown_expectation": (
        b"POST /json HTTP/1.1\r\n" + H + b"Expect: 200-ok\r\nContent-Length: 1\r\n\r\nx",
        417,
    ),
}


@pytest.mark.parametrize("raw,status", REJECTIONS.values(), ids=REJECTIONS.keys())
def test_rejected_request_gets_json_error_and_close(crest, raw, status):
    with crest.conn() as c:
        c.send(raw)
        r = c.read_response()
        assert_error(r, status)
        assert_closed(c)


@pytest.mark.parametrize(
    "host", [b"", b"127.0.0.1:8080", b"[::1]:8080", b"[v1.x]", b"xn--caf-dma.example:80", b"a%41b"]
)
def test_valid_host_forms_are_served(crest, host):
    with crest.conn() as c:
        r = c.request(b"GET /json HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
        assert r.status == 200


def test_nothing_after_a_rejected_request_is_answered(crest):
    with crest.conn() as c:
        c.send(b"GET /json HTTP/1.1\r\nX-Foo : bar\r\n" + H + b"\r\n" + get("/json"))
        assert_error(c.read_response(), 400)
        assert_closed(c)


@pytest.fixture
def limited(start_crest):
    return start_crest(
        "--max-head-bytes", "4K", "--max-headers", "20", "--max-body-bytes", "1024"
    )


def test_over_long_request_line_is_414(limited):
    with limited.conn() as c:
        c.send(get("/json?q=" + "a" * 6000))
        assert_error(c.read_response(), 414)
        assert_closed(c)


def test_too_many_headers_is_431(limited):
    extra = "".join(f"X-H{i}: v\r\n" for i in range(30))
    with limited.conn() as c:
        c.send(get("/json", extra=extra))
        assert_error(c.read_response(), 431)
        assert_closed(c)


def test_oversized_header_is_431(limited):
    with limited.conn() as c:
        c.send(get("/json", extra="X-Big: " + "b" * 6000 + "\r\n"))
        assert_error(c.read_response(), 431)
        assert_closed(c)


def test_limits_leave_room_for_requests_under_them(limited):
    extra = "".join(f"X-H{i}: v\r\n" for i in range(15)) + "X-Big: " + "b" * 2000 + "\r\n"
    with limited.conn() as c:
        r = c.request(get("/json", extra=extra))
        assert r.status == 200
        c.send(b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n")
        r = c.request(b"z" * 1024)
        assert r.status == 405


def send_in_background(conn, data):
    """Sends `data` from a thread (the server may stop reading); errors are the point."""

    def run():
        try:
            conn.sock.sendall(data)
        except OSError:
            pass

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("body_bytes", [2048, 4 << 20])
def test_body_over_limit_is_413_and_readable(limited, body_bytes):
    with limited.conn() as c:
        c.send(f"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: {body_bytes}\r\n\r\n".encode())
        sender = send_in_background(c, b"x" * body_bytes)
        r = c.read_response()  # a reset instead of the response fails here
        assert_error(r, 413)
        assert_closed(c, timeout=5)
        sender.join(5)


def test_chunked_body_over_limit_is_413(limited):
    chunk = b"400\r\n" + b"y" * 1024 + b"\r\n"
    with limited.conn() as c:
        c.send(b"POST /json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        sender = send_in_background(c, chunk * 8 + b"0\r\n\r\n")
        assert_error(c.read_response(), 413)
        assert_closed(c, timeout=5)
        sender.join(5)


# ---- header injection ----

INJECTIONS = [
    b"GET /nope%0d%0aX-Injected:%20yes HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /json?a=%0d%0aX-Injected:%20yes HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /json%0D%0AX-Injected:%20yes HTTP/1.1\r\n" + H + b"\r\n",
    b"DELETE /json%0d%0aX-Injected:%20yes HTTP/1.1\r\n" + H + b"\r\n",
    b"OPTIONS /json%0d%0aX-Injected:%20yes HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /json HTTP/1.1\r\n" + H + b"X-Foo: a\rX-Injected: yes\r\n\r\n",
    b"GET /json HTTP/1.1\r\n" + H + b"X-Foo: a\nX-Injected: yes\r\n\r\n",
    b"GET /json\r\nX-Injected: yes HTTP/1.1\r\n" + H + b"\r\n",
    b"GET /json HTTP/1.1\r\nHost: x\r\nX-Injected: yes\r\n\r\n".replace(b"Host: x", b"Host: x\r"),
]


@pytest.mark.parametrize("raw", INJECTIONS, ids=range(len(INJECTIONS)))
def test_request_bytes_never_split_a_response_header(crest, raw):
    with crest.conn() as c:
        c.send(raw)
        r = c.read_response()  # read_response rejects malformed header lines itself
        names = [n.lower() for n, _ in r.headers]
        assert "x-injected" not in names, r
        assert b"x-injected" not in r.head.lower(), r


# ---- framing edge cases ----


def test_pipelined_request_after_content_length_body_in_one_send(crest):
    with crest.conn() as c:
        post = b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        c.send(post + get("/healthz"))
        assert c.read_response().status == 405
        r = c.read_response()
        assert r.status == 200 and r.body == HEALTH_BODY


def test_pipelined_request_after_chunked_body_in_one_send(crest):
    with crest.conn() as c:
        c.send(
            b"POST /json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
            b"3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n" + get("/healthz")
        )
        assert c.read_response().status == 405
        r = c.read_response()
        assert r.status == 200 and r.body == HEALTH_BODY


def test_large_body_under_the_limit_then_next_request(crest):
    body = b"b" * 500_000  # larger than the read buffer: gathered separately
    with crest.conn() as c:
        c.send(f"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode())
        sender = send_in_background(c, body + get("/healthz"))
        assert c.read_response().status == 405
        r = c.read_response()
        assert r.status == 200 and r.body == HEALTH_BODY
        sender.join(5)


def test_pipelined_requests_in_random_fragments(crest):
    import random

    rng = random.Random(1234)
    paths = [("/json", JSON_BODY), ("/healthz", HEALTH_BODY)] * 15
    data = b"".join(get(p, extra=f"X-N: {i}\r\n") for i, (p, _) in enumerate(paths))
    with crest.conn() as c:
        at = 0
        while at < len(data):
            n = rng.randint(1, 40)
            c.send(data[at : at + n])
            at += n
            time.sleep(0.001)
        for i, (_, body) in enumerate(paths):
            r = c.read_response()
            assert r.status == 200 and r.body == body, i


def test_many_pipelined_requests_with_a_slow_reader(crest):
    """More responses than one output buffer holds: back-pressure must not lose or reorder any."""
    n = 3000
    data = b"".join(get("/json" if i % 2 else "/healthz") for i in range(n))
    with crest.conn(timeout=10) as c:
        sender = send_in_background(c, data)
        time.sleep(0.3)  # let the server fill its output and stop reading
        for i in range(n):
            r = c.read_response()
            assert r.status == 200 and r.body == (JSON_BODY if i % 2 else HEALTH_BODY), i
        sender.join(5)


def test_leading_empty_lines_before_request_line_are_ignored(crest):
    r = crest.request(b"\r\n\r\n" + get("/json"))
    assert r.status == 200 and r.body == JSON_BODY


def test_empty_header_value_is_accepted(crest):
    r = crest.request(get("/json", extra="X-Empty:\r\nX-Spaces:   \r\n"))
    assert r.status == 200


def test_head_of_unknown_path_has_no_body(crest):
    with crest.conn() as c:
        c.send(b"HEAD /nope HTTP/1.1\r\nHost: x\r\n\r\n" + get("/json"))
        head = c.read_response(head_only=True)
        assert head.status == 404
        r = c.read_response()
        assert r.status == 200 and r.body == JSON_BODY


def test_connection_close_stops_a_pipeline(crest):
    with crest.conn() as c:
        c.send(get("/json", extra="Connection: close\r\n") + get("/healthz"))
        r = c.read_response()
        assert r.status == 200 and r.body == JSON_BODY
        assert_closed(c)


@pytest.mark.parametrize("n", [1, 3])
def test_requests_sent_with_fin_are_answered(crest, n):
    with crest.conn() as c:
        c.send(get("/json") * n)
        c.sock.shutdown(socket.SHUT_WR)
        for _ in range(n):
            r = c.read_response()
            assert r.status == 200 and r.body == JSON_BODY
        closed, _ = c.wait_closed(timeout=3)
        assert closed


def test_http10_keep_alive_token_is_case_insensitive(crest):
    with crest.conn() as c:
        r = c.request(b"GET /json HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
        assert r.status == 200
        assert (r.header("Connection") or "").lower() == "keep-alive"
        assert c.request(b"GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").status == 200


def test_absolute_form_routes_by_path(crest):
    r = crest.request(b"GET http://example.com:8080/healthz?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert r.status == 200 and r.body == HEALTH_BODY


MORE_REJECTIONS = {
    "nul_in_value": (b"GET /json HTTP/1.1\r\n" + H + b"X-Foo: a\x00b\r\n\r\n", 400),
    "raw_non_ascii_in_target": (b"GET /j\xc3\xa9son HTTP/1.1\r\n" + H + b"\r\n", 400),
    "double_space_in_request_line": (b"GET  /json HTTP/1.1\r\n" + H + b"\r\n", 400),
    "lowercase_version": (b"GET /json http/1.1\r\n" + H + b"\r\n", 400),
    "invalid_header_name": (b"GET /json HTTP/1.1\r\n" + H + b"X(Foo): bar\r\n\r\n", 400),
    "empty_header_name": (b"GET /json HTTP/1.1\r\n" + H + b": bar\r\n\r\n", 400),
    "chunk_size_not_hex": (
        b"POST /json HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
        b"zz\r\nhello\r\n0\r\n\r\n",
        400,
    ),
    "chunk_missing_crlf": (
        b"POST /json HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        400,
    ),
    "request_target_not_origin_form": (b"GET json HTTP/1.1\r\n" + H + b"\r\n", 400),
    "asterisk_for_get": (b"GET * HTTP/1.1\r\n" + H + b"\r\n", 400),
}


@pytest.mark.parametrize("raw,status", MORE_REJECTIONS.values(), ids=MORE_REJECTIONS.keys())
def test_more_rejected_requests(crest, raw, status):
    with crest.conn() as c:
        c.send(raw)
        assert_error(c.read_response(), status)
        assert_closed(c)


def test_huge_chunk_size_is_refused(limited):
    with limited.conn() as c:
        c.send(
            b"POST /json HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"ffffffffffffffffffff\r\nabc"
        )
        r = c.read_response()
        assert r.status in (400, 413), r
        assert_error(r, r.status)
        assert_closed(c)


def test_body_one_byte_over_limit_is_413(limited):
    with limited.conn() as c:
        c.send(b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n" + b"z" * 1025)
        assert_error(c.read_response(), 413)
        assert_closed(c)


def test_header_count_at_the_limit_is_accepted_one_more_is_431(limited):
    at_limit = "".join(f"X-H{i}: v\r\n" for i in range(19))  # + Host = 20
    with limited.conn() as c:
        assert c.request(get("/json", extra=at_limit)).status == 200
        c.send(get("/json", extra=at_limit + "X-One-More: v\r\n"))
        assert_error(c.read_response(), 431)
        assert_closed(c)


def test_expect_100_continue_with_body_over_limit_gets_413_not_100(limited):
    with limited.conn() as c:
        c.send(
            b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        assert_error(c.read_response(timeout=3), 413)
        assert_closed(c)


def test_rejection_is_readable_while_the_client_keeps_sending(crest):
    with crest.conn() as c:
        c.send(b"GET /json HTTP/2.0\r\nHost: x\r\n\r\n")
        sender = send_in_background(c, b"j" * (2 << 20))
        assert_error(c.read_response(), 505)
        sender.join(5)


def test_get_with_a_body_is_framed_by_content_length(crest):
    with crest.conn() as c:
        c.send(b"GET /json HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get("/healthz"))
        assert c.read_response().body == JSON_BODY
        assert c.read_response().body == HEALTH_BODY


def test_over_long_request_line_with_default_limits_is_414(crest):
    with crest.conn() as c:
        c.send(get("/" + "a" * 20000))
        assert_error(c.read_response(), 414)
        assert_closed(c)


def test_100_continue_follows_earlier_pipelined_responses(crest):
    with crest.conn() as c:
        c.send(
            get("/healthz")
            + b"POST /json HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
        )
        assert c.read_response().body == HEALTH_BODY
        assert c.read_response(timeout=3).status == 100
        c.send(b"abc")
        assert c.read_response().status == 405


def test_expect_100_continue_is_ignored_in_http10(crest):
    with crest.conn() as c:
        c.send(b"POST /json HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
        c.sock.settimeout(0.3)
        try:
            early = c.sock.recv(100)
        except (socket.timeout, TimeoutError):
            early = b""
        finally:
            c.sock.settimeout(c.timeout)
        assert early == b"", f"an HTTP/1.0 client got {early!r} before sending its body"
        c.send(b"abc")
        assert c.read_response().status == 405
