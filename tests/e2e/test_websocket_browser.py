"""WebSockets and Server-Sent Events in a real browser (issue 18): the realtime example serves a
page from its static mount (--root), and that page, in Debian's chromium (tests/browser/report.mjs,
playwright-core), uses the browser's own WebSocket and EventSource against the same example:
text and binary echoes (a 1 MiB binary message among them, sent in one frame by the browser),
two chat members of one page each hearing the other's message, and events with ids. What the
browser accepted is the verdict: it fails a connection on any framing or handshake error."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, Server, clean_env, free_port

BUILD = Path(os.environ.get("CREST_BUILD") or REPO / "build")
TOOLS = BUILD / "test-tools"
EXAMPLE = BUILD / "examples" / "realtime"
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() or not shutil.which("node"),
    reason="needs Debian's chromium and node (make test installs chromium)")

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>ws</title></head><body><script>
function open(path) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket('ws://' + location.host + path);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error('could not open ' + path));
  });
}
function next(ws) {
  return new Promise((resolve, reject) => {
    ws.onmessage = (e) => resolve(e.data);
    ws.onclose = (e) => reject(new Error('closed ' + e.code));
  });
}
(async () => {
  const report = {};
  try {
    const echo = await open('/ws/echo');
    report.protocol = echo.protocol;
    echo.send('héllo ✓');
    report.text = await next(echo);
    const big = new Uint8Array(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
    echo.send(big);
    const back = new Uint8Array(await next(echo));
    report.binary = back.length === big.length && back.every((v, i) => v === big[i]);
    const closed = new Promise((resolve) => { echo.onclose = (e) => resolve(e.code); });
    echo.close(1000);
    report.close = await closed;
    const a = await open('/ws/chat'), b = await open('/ws/chat');
    const heard = next(b);
    a.send('hello from a');
    report.chat = await heard;
    a.close(); b.close();
    const events = new EventSource('/events?count=3');
    report.events = await new Promise((resolve, reject) => {
      const seen = [];
      events.addEventListener('tick', (e) => {
        seen.push(e.lastEventId);
        if (seen.length === 3) { events.close(); resolve(seen); }
      });
      events.onerror = () => { if (seen.length < 3) reject(new Error('event stream failed')); };
    });
  } catch (e) {
    report.error = String(e);
  }
  window.report = report;
})();
</script></body></html>"""


def test_a_browser_talks_websocket_and_sse_to_the_example(tmp_path):
    assert (TOOLS / "node_modules" / "playwright-core").is_dir(), \
        f"no playwright-core in {TOOLS}: build with cmake first"
    if not EXAMPLE.exists():
        pytest.fail(f"{EXAMPLE} is not built (make build builds the examples)")
    root = tmp_path / "root"
    root.mkdir()
    (root / "ws.html").write_text(PAGE)
    port = free_port()
    proc = subprocess.Popen([str(EXAMPLE), "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "2", "--root", str(root), "--tick-ms", "50"],
                            cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    srv = Server(proc, port, tmp_path)
    try:
        assert srv.wait_ready(), srv.stderr
        r = subprocess.run(["node", str(REPO / "tests/browser/report.mjs"),
                            f"http://127.0.0.1:{port}/files/ws.html", str(tmp_path)],
                           env={**os.environ, "CREST_TEST_TOOLS": str(TOOLS)},
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        seen = json.loads(r.stdout.strip().splitlines()[-1])
        assert "error" not in seen, seen
        assert seen["text"] == "héllo ✓"
        assert seen["binary"] is True
        assert seen["close"] == 1000
        assert seen["chat"] == "hello from a"
        assert seen["events"] == ["1", "2", "3"], seen["events"]
    finally:
        assert srv.stop() == 0
