"""GET /docs (Swagger UI), /redoc (ReDoc) and their assets on the real crest, from the assets
directory the build installs with npm (the binary's default --docs-dir): pages and bundles with
their Content-Type and caching headers, ETag revalidation, asset names that try to leave the
directory (404), --docs-dir pointing elsewhere, a directory without assets (a warning; the API and
/openapi.json still served), and large assets under a memory budget (503, crest goes on)."""
import os
from pathlib import Path

import pytest

from conftest import REPO, get

BUILD = Path(os.environ.get("CREST_BUILD") or REPO / "build")
ASSETS = BUILD / "docs-assets" / "dist"

ASSET_TYPES = {
    "swagger-ui-bundle.js": "application/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "application/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}


def test_docs_page_loads_swagger_ui_from_crest(crest):
    r = crest.get("/docs")
    assert r.status == 200
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    assert r.header("Cache-Control") == "no-cache"
    page = r.body.decode()
    assert '<script src="/docs/swagger-ui-bundle.js"></script>' in page
    assert 'href="/docs/swagger-ui.css"' in page
    assert "url: '/openapi.json'" in page
    assert "<title>crest items API - Swagger UI</title>" in page
    assert "http://" not in page and "https://" not in page  # nothing from elsewhere


def test_redoc_page_loads_the_standalone_bundle(crest):
    r = crest.get("/redoc")
    assert r.status == 200
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    assert r.header("Cache-Control") == "no-cache"
    assert "default-src 'self'" in r.header("Content-Security-Policy")
    page = r.body.decode()
    assert '<redoc spec-url="/openapi.json"></redoc>' in page
    assert '<script src="/docs/redoc.standalone.js"></script>' in page


@pytest.mark.parametrize("name", sorted(ASSET_TYPES))
def test_docs_assets_come_from_the_npm_packages_with_type_and_cache(crest, name):
    r = crest.get(f"/docs/{name}")
    assert r.status == 200, r
    assert r.header("Content-Type") == ASSET_TYPES[name]
    assert r.header("Cache-Control") == "public, max-age=86400"
    assert r.header("ETag")
    if (ASSETS / name).is_file():  # the same npm lock installed the binary's own copy
        assert r.body == (ASSETS / name).read_bytes()
    assert len(r.body) > 100


def test_docs_asset_is_304_when_the_browser_has_it(crest):
    first = crest.get("/docs/swagger-ui.css")
    etag = first.header("ETag")
    r = crest.request(get("/docs/swagger-ui.css", extra=f"If-None-Match: {etag}\r\n"))
    assert r.status == 304 and r.body == b""
    assert r.header("ETag") == etag
    r = crest.request(get("/docs/swagger-ui.css", extra='If-None-Match: "stale"\r\n'))
    assert r.status == 200 and r.body == first.body


@pytest.mark.parametrize("target", [
    "/docs/../CMakeCache.txt",
    "/docs/..%2F..%2FCMakeCache.txt",
    "/docs/%2e%2e%2f%2e%2e%2fCMakeCache.txt",
    "/docs/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/docs/%2Fetc%2Fpasswd",
    "/docs/..%5C..%5Cetc%5Cpasswd",
    "/docs/.stamp",
    "/docs/..",
    "/docs/nothing.js",
    "/docs/swagger-ui-bundle.js.map",
    "/docs/index.html",
])
def test_docs_asset_names_that_leave_the_directory_are_404(crest, target):
    r = crest.get(target)
    assert r.status == 404, r
    assert b"root:" not in r.body and b"CMAKE" not in r.body


def test_docs_dir_flag_serves_another_directory(start_crest, tmp_path):
    assets = tmp_path / "assets"
    assets.mkdir()
    for name in ("swagger-ui.css", "swagger-ui-bundle.js", "redoc.standalone.js"):
        (assets / name).write_text(f"/* {name} from --docs-dir */")
    srv = start_crest("--docs-dir", str(assets))
    r = srv.get("/docs/swagger-ui-bundle.js")
    assert r.status == 200 and r.body == b"/* swagger-ui-bundle.js from --docs-dir */"


def test_docs_without_assets_warn_and_keep_the_api(start_crest, tmp_path):
    srv = start_crest("--docs-dir", str(tmp_path / "missing"))
    assert any("/docs and /redoc are off" in line for line in srv.stderr), srv.stderr
    assert srv.get("/docs").status == 404
    assert srv.get("/openapi.json").status == 200
    assert srv.get("/healthz").status == 200


def test_docs_bundle_over_the_memory_budget_is_503_and_crest_goes_on(start_crest):
    srv = start_crest("--memory-limit", "1M", workers=1)
    r = srv.get("/docs/swagger-ui-bundle.js")  # 1.7 MB: cannot fit the budget
    assert r.status == 503, r
    assert srv.get("/healthz").status == 200
    assert srv.get("/docs/favicon-32x32.png").status == 200
