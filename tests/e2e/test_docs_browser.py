"""/docs and /redoc used in a real browser: Debian's chromium (/usr/bin/chromium), headless,
driven by playwright-core from node (tests/browser/docs.mjs; no browser is ever downloaded). It
lists the items operations in Swagger UI, runs "Try it out" on POST /items and GET
/items/{item_id} and reads their 201 and 200 in the page, then checks ReDoc rendered the Item
schema. crest runs with --api-key-file (issue 16): the first POST must get 401, then the page's
"Authorize" takes the key and the same POST gets 201, while GET needs none. Screenshots land in the test's tmp_path; with CREST_UPDATE_SCREENSHOTS=1, docs.png is
also copied to docs/images/docs.png for the README (so ordinary runs leave the tree alone)."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

BUILD = Path(os.environ.get("CREST_BUILD") or REPO / "build")
TOOLS = BUILD / "test-tools"
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() or not shutil.which("node"),
    reason="needs Debian's chromium and node (make test installs chromium)")


def test_docs_and_redoc_work_in_a_browser(start_crest, tmp_path):
    assert (TOOLS / "node_modules" / "playwright-core").is_dir(), \
        f"no playwright-core in {TOOLS}: build with cmake first"
    keys = tmp_path / "keys.txt"
    keys.write_text("browser-key-16\n")
    srv = start_crest("--api-key-file", str(keys))
    shots = tmp_path / "screenshots"
    shots.mkdir()
    r = subprocess.run(
        ["node", str(REPO / "tests/browser/docs.mjs"), f"http://127.0.0.1:{srv.port}", str(shots),
         "browser-key-16"],
        env={**os.environ, "CREST_TEST_TOOLS": str(TOOLS)},
        capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert seen["unauthorized"] == {"status": 401, "body": {"detail": "Not authenticated"}}
    assert seen["post"]["status"] == 201
    assert seen["get"] == {"status": 200, "name": "Browser item"}
    assert {"/items", "/items/{item_id}"} <= set(seen["operations"])
    assert '"id"' in seen["redoc"]["item_sample"]
    for name in ("docs.png", "docs-overview.png", "redoc.png"):
        data = (shots / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, name
    if os.environ.get("CREST_UPDATE_SCREENSHOTS") == "1":
        (REPO / "docs" / "images").mkdir(exist_ok=True)
        shutil.copyfile(shots / "docs.png", REPO / "docs" / "images" / "docs.png")
