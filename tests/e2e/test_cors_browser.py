"""CORS in a real browser (issue 16): a page served from one origin (python's http.server on a
free 127.0.0.1 port) calls crest, started with --cors-allow-origins naming that origin, from
Debian's chromium (tests/browser/report.mjs, playwright-core). What the page's script may read is
the browser's verdict, not crest's headers read by a test: a simple GET, a POST with a JSON body
(which needs a preflight), crest's own 422 and 404 (whose bodies a browser hides unless they
carry Access-Control-Allow-Origin), and, from a second crest that does not allow the page's
origin, a GET the browser refuses to show at all."""
import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from conftest import REPO, free_port

BUILD = Path(os.environ.get("CREST_BUILD") or REPO / "build")
TOOLS = BUILD / "test-tools"
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() or not shutil.which("node"),
    reason="needs Debian's chromium and node (make test installs chromium)")

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>cors</title></head><body><script>
async function call(url, init) {
  try {
    const r = await fetch(url, init);
    let body = null;
    try { body = await r.json(); } catch (e) { body = 'unreadable'; }
    return {status: r.status, body: body};
  } catch (e) {
    return {error: String(e)};
  }
}
(async () => {
  const api = '%(api)s', other = '%(other)s';
  const json = {'Content-Type': 'application/json'};
  const report = {};
  report.get = await call(api + '/items');
  report.post = await call(api + '/items', {method: 'POST', headers: json,
                                            body: JSON.stringify({name: 'from a page', price: 2})});
  report.invalid = await call(api + '/items', {method: 'POST', headers: json, body: '{"name": 1}'});
  report.missing = await call(api + '/items/424242');
  report.refused = await call(other + '/items');
  window.report = report;
})();
</script></body></html>"""


@pytest.fixture
def page_server(tmp_path):
    """Serves tmp_path/www on a free port: the page's origin."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield www, srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_a_page_on_another_origin_reads_what_cors_allows(start_crest, page_server, tmp_path):
    assert (TOOLS / "node_modules" / "playwright-core").is_dir(), \
        f"no playwright-core in {TOOLS}: build with cmake first"
    www, page_port = page_server
    origin = f"http://127.0.0.1:{page_port}"
    api = start_crest("--cors-allow-origins", origin)
    other = start_crest("--cors-allow-origins", "http://127.0.0.1:1")
    (www / "index.html").write_text(PAGE % {"api": f"http://127.0.0.1:{api.port}",
                                            "other": f"http://127.0.0.1:{other.port}"})
    r = subprocess.run(["node", str(REPO / "tests/browser/report.mjs"), f"{origin}/index.html",
                        str(tmp_path)],
                       env={**os.environ, "CREST_TEST_TOOLS": str(TOOLS)},
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert seen["get"] == {"status": 200, "body": []}
    assert seen["post"]["status"] == 201 and seen["post"]["body"]["name"] == "from a page"
    assert seen["invalid"]["status"] == 422
    assert seen["invalid"]["body"]["detail"][0]["loc"] == ["body", "name"]
    assert seen["missing"] == {"status": 404, "body": {"detail": "Item not found"}}
    assert "error" in seen["refused"], seen["refused"]  # the browser hid it: a TypeError
