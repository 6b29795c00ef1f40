"""WebSockets (RFC 6455, issue 18) on examples/realtime, on real sockets: the handshake's answers
(101 with the accept key of RFC 6455 1.3, 400 for a bad key or a missing Upgrade, 426 with
Sec-WebSocket-Version for another version); every close code crest sends, provoked by raw frames
(1002 for an unmasked frame, reserved bits, a reserved opcode, a long or fragmented control frame,
a continuation of nothing; 1007 for text that is not UTF-8, also when the bad byte is split across
fragments; 1009 past the message limit; the client's own code echoed); pings answered; echo and
chat (a broadcast across two workers) through Debian's python3-websockets; and memory: 200 idle
WebSockets hold no io block and no buffer, only their state, under 256 bytes each."""
import asyncio
import base64
import hashlib
import os
import socket
import struct
import subprocess
import time

import pytest

from conftest import Server, clean_env, free_port

EXAMPLE = os.path.join(os.environ.get("CREST_BUILD", "build"), "examples", "realtime")
KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 1.3's example
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def start(tmp_path, *flags):
    port = free_port()
    proc = subprocess.Popen(
        [EXAMPLE, "--host", "127.0.0.1", "--port", str(port), *flags],
        cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    server = Server(proc, port, tmp_path)
    assert server.wait_ready(), f"the example did not start: {server.stderr}"
    return server


@pytest.fixture
def rt(tmp_path):
    server = start(tmp_path, "--workers", "2")
    yield server
    assert server.stop() == 0


def handshake(port, path="/ws/echo", key=KEY, version="13", extra=""):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall((f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n{extra}\r\n")
              .encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        assert chunk, head
        head += chunk
    return s, head.decode()


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0):
    first = (0x80 if fin else 0) | rsv | opcode
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", first, (0x80 if mask else 0) | n)
    elif n < 65536:
        head = struct.pack("!BBH", first, (0x80 if mask else 0) | 126, n)
    else:
        head = struct.pack("!BBQ", first, (0x80 if mask else 0) | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_frame(s):
    def take(n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf
    b0, b1 = take(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", take(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", take(8))[0]
    assert not b1 & 0x80, "server frames are not masked"
    return b0 & 0x0F, take(n)


def close_code(s):
    """The code of the server's close frame, after which the server closes the connection."""
    while True:
        op, payload = read_frame(s)
        if op == 8:
            code = struct.unpack("!H", payload[:2])[0] if payload else None
            s.settimeout(5)
            assert s.recv(1) == b"", "the server closes the TCP connection after its close"
            return code


def test_handshake_answers_101_with_the_accept_key(rt):
    s, head = handshake(rt.port)
    assert head.startswith("HTTP/1.1 101 ")
    assert f"Sec-WebSocket-Accept: {ACCEPT}" in head
    assert "Upgrade: websocket" in head and "Connection: Upgrade" in head
    s.sendall(frame(1, b"hi"))
    assert read_frame(s) == (1, b"hi")
    s.close()


@pytest.mark.parametrize("key", ["short", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZR=="])
def test_a_key_that_is_not_16_bytes_of_base64_is_400(rt, key):
    s, head = handshake(rt.port, key=key)
    assert head.startswith("HTTP/1.1 400 ")
    s.close()


def test_another_version_is_426_naming_13(rt):
    s, head = handshake(rt.port, version="8")
    assert head.startswith("HTTP/1.1 426 ") and "Sec-WebSocket-Version: 13" in head
    s.close()


def test_a_plain_get_of_a_websocket_route_is_400_with_a_detail(rt):
    r = rt.get("/ws/echo")
    assert r.status == 400 and "Upgrade" in r.json()["detail"]


@pytest.mark.parametrize("bad,code", [
    (frame(1, b"x", mask=False), 1002),                       # 5.1: clients mask
    (frame(1, b"x", rsv=0x40), 1002),                         # RSV1 without an extension
    (frame(3, b"x"), 1002),                                   # reserved data opcode
    (frame(0xB, b"x"), 1002),                                 # reserved control opcode
    (frame(9, b"x" * 126), 1002),                             # control frame over 125 bytes
    (frame(9, b"x", fin=False), 1002),                        # fragmented control frame
    (frame(0, b"x"), 1002),                                   # continuation of nothing
    (frame(1, b"a", fin=False) + frame(1, b"b"), 1002),       # new message inside a fragmented one
    (frame(1, b"\xff"), 1007),                                # not UTF-8
    (frame(1, b"\xed\xa0\x80"), 1007),                        # a surrogate
    (frame(1, b"ok \xe2\x82", fin=False) + frame(0, b"\x28"), 1007),  # bad across fragments
    (frame(1, b"\xe2\x82"), 1007),                            # ends inside a character
    (frame(8, b"\x03\xe8\xff"), 1007),                        # close reason not UTF-8
    (frame(8, b"\x03"), 1002),                                # close payload of one byte
    (frame(8, struct.pack("!H", 1005)), 1002),                # a code that may not be sent
    (frame(8, struct.pack("!H", 999)), 1002),
    (frame(8, struct.pack("!H", 4000) + b"bye"), 4000),       # the client's code, echoed
    (frame(8, b""), None),                                    # no code: none echoed
])
def test_each_bad_frame_gets_its_close_code(rt, bad, code):
    s, head = handshake(rt.port)
    assert " 101 " in head
    s.sendall(bad)
    assert close_code(s) == code
    s.close()


def test_a_message_over_the_limit_is_1009_before_its_payload_arrives(rt):
    s, _ = handshake(rt.port)
    s.sendall(struct.pack("!BBQ", 0x82, 0xFF, (16 << 20) + 1) + b"mask")  # header only
    assert close_code(s) == 1009
    s.close()


def test_fragments_over_the_limit_together_are_1009(rt):
    s, _ = handshake(rt.port, path="/ws/chat")  # 64 KiB messages
    s.sendall(frame(2, b"x" * 40000, fin=False) + frame(0, b"x" * 40000))
    assert close_code(s) == 1009
    s.close()


def test_ping_is_answered_with_its_payload_and_fragments_are_joined(rt):
    s, _ = handshake(rt.port)
    s.sendall(frame(1, "hé".encode()[:2], fin=False) + frame(9, b"p1") +
              frame(0, "hé".encode()[2:], fin=True))
    assert read_frame(s) == (0xA, b"p1")  # the ping between fragments is answered at once
    assert read_frame(s) == (1, "hé".encode())
    s.sendall(frame(8, struct.pack("!H", 1000)))
    assert close_code(s) == 1000
    s.close()


def test_echo_and_chat_across_workers_with_python_websockets(rt):
    websockets = pytest.importorskip("websockets")

    async def main():
        uri = f"ws://127.0.0.1:{rt.port}"
        async with websockets.connect(uri + "/ws/echo", max_size=None) as ws:
            await ws.send("héllo")
            assert await ws.recv() == "héllo"
            big = os.urandom(16 << 20)
            await ws.send(big)
            assert await ws.recv() == big
        # enough members that both workers have some (SO_REUSEPORT spreads them)
        members = [await websockets.connect(uri + "/ws/chat") for _ in range(8)]
        await asyncio.sleep(0.2)
        await members[0].send("hello room")
        for m in members:
            assert await asyncio.wait_for(m.recv(), 5) == "hello room"
        for m in members:
            await m.close()
            assert m.close_code == 1000
    asyncio.run(main())


def debug_memory(port):
    import json
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /debug/memory HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    body = json.loads(data.split(b"\r\n\r\n", 1)[1])
    return {t["tag"]: t for t in body["tags"]}


def test_idle_websockets_hold_no_buffer(tmp_path):
    server = start(tmp_path, "--workers", "1")
    try:
        before = debug_memory(server.port)
        socks = []
        for _ in range(200):
            s, head = handshake(server.port)
            assert " 101 " in head
            s.sendall(frame(1, b"x" * 1000))
            assert read_frame(s) == (1, b"x" * 1000)
            socks.append(s)
        time.sleep(0.2)
        after = debug_memory(server.port)
        # no io block (read buffer, session) per connection: at most the pool's cached ones
        assert after["io"]["live_blocks"] - before["io"]["live_blocks"] < 10
        assert after["out"]["live_bytes"] - before["out"]["live_bytes"] < 256 << 10
        per_conn = (after["ws"]["live_bytes"] - before["ws"]["live_bytes"]) / 200
        assert 0 < per_conn <= 256, per_conn
        for s in socks:
            s.close()
    finally:
        assert server.stop() == 0


def test_readers_too_slow_are_closed_not_buffered(rt):
    slow, head = handshake(rt.port, path="/ws/chat")
    assert " 101 " in head
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    talker, _ = handshake(rt.port, path="/ws/chat")
    msg = frame(2, os.urandom(60000))
    talker.settimeout(10)
    try:
        for _ in range(300):  # 18 MB to every member, none of whom reads: 1 MiB queues overflow
            talker.sendall(msg)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the talker, not reading its own broadcasts, was dropped too
    # two 1 MiB queues, two workers' 1 MiB inboxes, a partial frame: bounded, whatever was sent
    assert debug_memory(rt.port)["ws"]["live_bytes"] < 8 << 20
    slow.settimeout(10)
    got = 0
    try:
        while chunk := slow.recv(1 << 20):  # what the kernel holds, then the end
            got += len(chunk)
    except (ConnectionResetError, socket.timeout):
        pass  # dropped (its queue overflowed), or spared because the hub's bounded inbox refused
        # what its worker had not delivered yet: either way nothing grew without bound
    assert got < 300 * 60000
    slow.close()
    talker.close()
    assert rt.get("/json").status == 200


NODE_CLIENT = """
const WebSocket = require('ws');
const ws = new WebSocket(process.argv[process.argv.length - 1]);
const got = [];
ws.on('open', () => { ws.send('from node'); ws.send(Buffer.from([1, 2, 3])); });
ws.on('message', (m, binary) => {
  got.push(binary ? 'bin:' + [...m].join(',') : 'text:' + m.toString());
  if (got.length === 2) ws.close(1000, 'done');
});
ws.on('close', (code) => { console.log(JSON.stringify({got, code})); });
ws.on('error', (e) => { console.log(JSON.stringify({error: String(e)})); });
"""


def test_echo_with_the_npm_ws_client(rt):
    import json
    import shutil
    modules = os.path.join(os.environ.get("CREST_BUILD", "build"), "ws-tools", "node_modules")
    if not shutil.which("node") or not os.path.isdir(os.path.join(modules, "ws")):
        pytest.fail(f"node and {modules} are needed (the build installs tests/ws with npm ci)")
    out = subprocess.run(["node", "-e", NODE_CLIENT, f"ws://127.0.0.1:{rt.port}/ws/echo"],
                         env=dict(os.environ, NODE_PATH=modules), capture_output=True,
                         text=True, timeout=20)
    assert json.loads(out.stdout) == {"got": ["text:from node", "bin:1,2,3"], "code": 1000}


def memory_report(port):
    import json
    c = socket.create_connection(("127.0.0.1", port), timeout=5)
    c.sendall(b"GET /debug/memory HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    raw = b""
    while True:
        chunk = c.recv(65536)
        if not chunk:
            break
        raw += chunk
    c.close()
    return json.loads(raw.split(b"\r\n\r\n", 1)[1])


def test_the_memory_budget_refuses_upgrades_instead_of_growing(tmp_path):
    """Idle WebSockets are opened until the worker's share of --memory-limit is used up: past it a
    new upgrade is answered 503 with Retry-After (with a JSON detail when even that fits; a bare
    503 in the room its 101 took when not), or closed at the door when not even a read buffer for
    its head fits (the engine's shedding); what crest holds stays within the limit, and once the
    WebSockets close an upgrade succeeds again."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    probe = start(tmp_path, "--workers", "1")
    try:
        tracked = memory_report(probe.port)["tracked_bytes"]
    finally:
        assert probe.stop() == 0
    limit = tracked + 48 * 1024
    srv = start(tmp_path, "--workers", "1", "--memory-limit", str(limit))
    held, answered, closed = [], [], 0
    try:
        while len(held) < 3000 and len(answered) + closed < 20:
            try:
                s, head = handshake(srv.port)
            except (AssertionError, ConnectionError, socket.timeout):
                closed += 1  # shed at the door: no read buffer for its head
                continue
            if head.startswith("HTTP/1.1 101"):
                held.append(s)
                continue
            s.settimeout(5)
            answered.append(head + s.recv(4096).decode())
            s.close()
        assert answered, f"{len(held)} WebSockets open, {closed} closed, none answered 503"
        for refused in answered:
            assert refused.startswith("HTTP/1.1 503"), refused
            assert "Retry-After: 1" in refused, refused
        assert len(held) > 10, "the budget should hold some WebSockets"
        for s in held[:len(held) // 2]:  # room for the report itself
            s.close()
        held = held[len(held) // 2:]
        time.sleep(0.3)
        report = memory_report(srv.port)
        assert report["tracked_bytes"] <= limit and report["shed_total"] >= 1, report
        for s in held:
            s.close()
        deadline = time.monotonic() + 5
        while True:  # the closes are seen, their memory freed: upgrades fit again
            try:
                s, head = handshake(srv.port)
                s.close()
            except (AssertionError, ConnectionError, socket.timeout):
                head = ""
            if head.startswith("HTTP/1.1 101") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert head.startswith("HTTP/1.1 101"), head
    finally:
        for s in held:
            s.close()
        assert srv.stop() == 0  # by pid, even when an assertion above failed


def test_a_silent_client_is_pinged_then_closed_with_1011(tmp_path):
    """--ws-ping-ms 300: a client that sends nothing gets a ping after about 300 ms; one that
    leaves it unanswered is closed with 1011 after as long again. One that answers each ping with
    its pong stays open, and its echo still works."""
    srv = start(tmp_path, "--workers", "1", "--ws-ping-ms", "300", "--ws-idle-ms", "0")
    try:
        s, head = handshake(srv.port)
        assert " 101 " in head
        s.settimeout(3)
        t0 = time.monotonic()
        op, payload = read_frame(s)
        assert op == 9, (op, payload)  # a ping
        assert 0.2 <= time.monotonic() - t0 <= 2.0
        assert close_code(s) == 1011  # left unanswered
        s.close()
        s, head = handshake(srv.port)
        s.settimeout(3)
        end = time.monotonic() + 1.5
        while time.monotonic() < end:
            op, payload = read_frame(s)
            assert op == 9, (op, payload)
            s.sendall(frame(10, payload))  # the pong, with the ping's payload
        s.sendall(frame(1, b"still here"))
        while True:
            op, payload = read_frame(s)
            if op != 9:
                break
            s.sendall(frame(10, payload))
        assert (op, payload) == (1, b"still here")
        s.close()
    finally:
        assert srv.stop() == 0


def test_an_idle_client_is_closed_with_1001(tmp_path):
    """--ws-idle-ms 300 without pings: a client that sends nothing is closed with 1001 (going
    away); one that keeps talking is not."""
    srv = start(tmp_path, "--workers", "1", "--ws-ping-ms", "0", "--ws-idle-ms", "300")
    try:
        s, head = handshake(srv.port)
        assert " 101 " in head
        s.settimeout(3)
        t0 = time.monotonic()
        assert close_code(s) == 1001
        assert 0.2 <= time.monotonic() - t0 <= 2.0
        s.close()
        s, head = handshake(srv.port)
        s.settimeout(3)
        for i in range(8):  # 8 × 100 ms of talking: more than one idle timeout in all
            s.sendall(frame(1, b"tick %d" % i))
            assert read_frame(s) == (1, b"tick %d" % i)
            time.sleep(0.1)
        s.close()
    finally:
        assert srv.stop() == 0
