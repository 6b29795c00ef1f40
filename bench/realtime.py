#!/usr/bin/python3
"""bench/realtime.py: what WebSockets and Server-Sent Events cost in crest (issue 18), beside two
peers measured in the same run: a python3-websockets echo server (Debian's) and a node `ws` echo
server (npm, tests/ws/package.json). Three figures:

1. Resident memory per idle WebSocket: N connections upgraded on GET /ws/echo and left idle,
   (RSS after - RSS before) / N for each server (examples/realtime for crest, 1 worker).
2. Resident memory per idle SSE subscriber: N GET /events streams (crest only: the peers have no
   event streams), ticks and heartbeats far off so that they are idle.
3. Echo messages/s: 100 connections each keeping 16 messages of 64 bytes in flight for --seconds,
   from one asyncio client written on raw sockets (the same for every server, so the ratios hold
   even where the client, not the server, is the limit).

A benchmark, not a test: it exits 0 once it has measured. Servers are its children on free
127.0.0.1 ports, stopped by pid; the fd limit is raised with setrlimit (each side holds N fds).

Run: /usr/bin/python3 bench/realtime.py --example build/examples/realtime [--conns 10000]
     [--seconds 5] [--out bench/results/realtime.md]
"""

import argparse
import asyncio
import base64
import datetime
import os
import resource
import socket
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODE_MODULES = os.path.join(ROOT, "build", "ws-tools", "node_modules")  # the build's npm ci of tests/ws

PY_ECHO = """
import asyncio, sys, websockets
async def echo(ws, path=None):
    async for m in ws:
        await ws.send(m)
async def main():
    async with websockets.serve(echo, "127.0.0.1", int(sys.argv[1]), max_size=None, ping_interval=None):
        print("ready", flush=True)
        await asyncio.Future()
asyncio.run(main())
"""

NODE_ECHO = """
const { WebSocketServer } = require('ws');
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.argv[process.argv.length - 1]) });
wss.on('connection', ws => ws.on('message', (m, binary) => ws.send(m, { binary })));
wss.on('listening', () => console.log('ready'));
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def wait_port(port, proc, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def start(kind, example):
    port = free_port()
    if kind == "crest":
        cmd = [example, "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
               "--tick-ms", "3600000", "--heartbeat-ms", "3600000"]
        env = None
    elif kind == "python3-websockets":
        cmd = ["/usr/bin/python3", "-c", PY_ECHO, str(port)]
        env = None
    else:
        cmd = ["node", "-e", NODE_ECHO, str(port)]
        env = dict(os.environ, NODE_PATH=NODE_MODULES)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            preexec_fn=raise_fd_limit)
    wait_port(port, proc)
    return proc, port


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def upgrade(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("closed during the handshake")
        head += chunk
    if b" 101 " not in head.split(b"\r\n")[0]:
        raise RuntimeError(head[:80])
    return s


def subscribe(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    if b" 200 " not in head.split(b"\r\n")[0]:
        raise RuntimeError(head[:80])
    return s


def idle_bytes(proc, port, n, connect):
    warm = [connect(port) for _ in range(100)]  # pools, tables and code pages touched first
    time.sleep(0.5)
    before = rss(proc.pid)
    socks = [connect(port) for _ in range(n)]
    time.sleep(1.0)
    after = rss(proc.pid)
    for s in socks + warm:
        s.close()
    return (after - before) / n


def masked(payload):
    key = os.urandom(4)
    return (struct.pack("!BB", 0x82, 0x80 | len(payload)) + key +
            bytes(b ^ key[i % 4] for i, b in enumerate(payload)))


async def echo_client(port, seconds, conns=100, depth=16, size=64):
    frame = masked(os.urandom(size)) * depth
    reply = (2 + size) * depth
    done = 0
    stop_at = time.time() + seconds

    async def one():
        nonlocal done
        r, w = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        w.write((f"GET /ws/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                 f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                 f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
        await r.readuntil(b"\r\n\r\n")
        while time.time() < stop_at:
            w.write(frame)
            await r.readexactly(reply)
            done += depth
        w.close()

    await asyncio.gather(*(one() for _ in range(conns)))
    return done / seconds


def measure(kind, example, n, seconds):
    row = {"server": kind}
    proc, port = start(kind, example)
    try:
        row["ws_idle"] = idle_bytes(proc, port, n, upgrade)
        if kind == "crest":
            row["sse_idle"] = idle_bytes(proc, port, n, subscribe)
        row["echo"] = asyncio.run(echo_client(port, seconds))
    finally:
        stop(proc)
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--example", default="build/examples/realtime")
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "realtime.md"))
    args = ap.parse_args()
    hard = raise_fd_limit()
    if hard < args.conns + 500:  # this client holds them, each server as many under its own
        sys.exit(f"the fd limit ({hard}) is too low for --conns {args.conns}")
    rows = []
    for kind in ["crest", "python3-websockets", "node-ws"]:
        try:
            rows.append(measure(kind, args.example, args.conns, args.seconds))
        except (OSError, RuntimeError) as e:
            print(f"{kind}: skipped ({e})", file=sys.stderr)
        print(rows[-1] if rows else None, file=sys.stderr)
    base = next((r["echo"] for r in rows if r["server"] == "crest"), None)
    lines = [
        "# WebSockets and Server-Sent Events (bench/realtime.py)",
        "",
        f"{datetime.date.today()}, {os.cpu_count()} CPUs, each server 1 process (crest: 1 worker).",
        f"Idle: {args.conns} connections left idle, resident memory added per connection.",
        f"Echo: 100 connections x 16 messages of 64 bytes in flight, {args.seconds:g} s, one "
        "asyncio client on raw sockets.",
        "",
        "| server | idle WebSocket (B RSS/conn) | idle SSE (B RSS/conn) | echo msgs/s | echo vs crest |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        sse = f"{r['sse_idle']:.0f}" if "sse_idle" in r else "-"
        ratio = f"{r['echo'] / base:.2f}" if base else "-"
        lines.append(f"| {r['server']} | {r['ws_idle']:.0f} | {sse} | {r['echo']:.0f} | {ratio} |")
    lines += ["", "Command: `/usr/bin/python3 bench/realtime.py --example build/examples/realtime "
              f"--conns {args.conns} --seconds {args.seconds:g}`", ""]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
