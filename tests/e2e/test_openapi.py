"""GET /openapi.json on the real crest: an OpenAPI 3.1.0 document that an independent validator
(@apidevtools/swagger-parser, run by node) accepts, that lists exactly the routes crest serves
(each path's methods against the Allow header crest answers to OPTIONS, and every route /metrics
saw), and that describes the items service in FastAPI's shapes. --no-docs leaves it served.

The validator comes from the build's test tools ($CREST_BUILD/test-tools, installed by CMake from
tests/browser/package-lock.json); node is Debian's."""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

BUILD = Path(os.environ.get("CREST_BUILD") or REPO / "build")
TOOLS = BUILD / "test-tools"
HIDDEN = {"/openapi.json", "/docs", "/redoc", "/docs/{file}"}  # as FastAPI leaves its own out
ITEMS_PATHS = {
    "/items": {"get", "post"},
    "/items/{item_id}": {"get", "put", "patch", "delete"},
    "/json": {"get"},
    "/healthz": {"get"},
}
ITEM = {"name": "Hammer", "price": 9.5, "tags": ["tools"]}


def document(srv):
    r = srv.get("/openapi.json")
    assert r.status == 200, r
    assert r.header("Content-Type") == "application/json"
    return r.json()


def openapi_path(template):
    """'/items/{item_id:int}' (a route template) → '/items/{item_id}' (an OpenAPI path)."""
    return re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*):(int|str)\}", r"{\1}", template)


def node_tools():
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    assert (TOOLS / "node_modules").is_dir(), f"no {TOOLS}/node_modules: build with cmake first"


def test_openapi_is_valid_for_an_independent_validator(crest):
    node_tools()
    r = subprocess.run(
        ["node", str(REPO / "tests/browser/validate-openapi.mjs"),
         f"http://127.0.0.1:{crest.port}/openapi.json"],
        env={**os.environ, "CREST_TEST_TOOLS": str(TOOLS)},
        capture_output=True, text=True, timeout=60)
    result = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else {}
    assert r.returncode == 0 and result.get("valid"), r.stdout + r.stderr
    assert result["openapi"] == "3.1.0"
    for path, methods in ITEMS_PATHS.items():
        assert set(result["paths"][path]) == methods
    ids = result["operationIds"]
    assert len(ids) == len(set(ids)), ids
    assert all(re.fullmatch(r"[a-z0-9_]+", i) for i in ids), ids


def test_openapi_lists_exactly_the_routes_crest_serves(crest):
    doc = document(crest)
    paths = doc["paths"]
    for path, methods in ITEMS_PATHS.items():
        assert set(paths[path]) == methods, path
    if crest.get("/metrics").status == 200:
        assert set(paths["/metrics"]) == {"get"}
    assert not HIDDEN & set(paths)
    # Each documented path, its parameters filled in, is served with exactly those methods.
    for path, item in paths.items():
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        r = crest.request(f"OPTIONS {concrete} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert r.status == 204, (path, r)
        served = {m.strip().lower() for m in r.header("Allow").split(",")} - {"head", "options"}
        assert served == set(item), (path, served, set(item))
    # Every route crest answered from (as /metrics labels them) is documented, or one of its own.
    crest.request(b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: " + str(len(json.dumps(ITEM))).encode() + b"\r\n\r\n"
                  + json.dumps(ITEM).encode())
    for path in paths:
        crest.get(re.sub(r"\{[^}]+\}", "1", path))
    for hidden in ("/docs", "/redoc", "/docs/swagger-ui.css"):
        crest.get(hidden)
    metrics = crest.get("/metrics")
    if metrics.status == 200:
        routes = set(re.findall(r'route="([^"]+)"', metrics.body.decode()))
        routes = {openapi_path(t) for t in routes if t.startswith("/")}
        assert routes - HIDDEN <= set(paths), routes - HIDDEN - set(paths)
        assert set(ITEMS_PATHS) <= routes


def test_openapi_describes_the_items_service_like_fastapi(crest):
    doc = document(crest)
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] == "crest items API"
    assert doc["info"]["version"]
    assert doc["info"]["description"]
    items = doc["paths"]["/items"]
    post = items["post"]
    assert post["operationId"] == "create_an_item_items_post"
    assert post["summary"] == "Create an item" and post["tags"] == ["items"]
    assert post["requestBody"] == {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemIn"}}},
        "required": True}
    assert post["responses"]["201"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Item"}
    assert set(post["responses"]) == {"201", "422", "503"}
    listing = items["get"]
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "array", "items": {"$ref": "#/components/schemas/Item"}}
    limit = next(p for p in listing["parameters"] if p["name"] == "limit")
    assert limit["in"] == "query" and limit["required"] is False
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100,
                               "title": "Limit"}
    one = doc["paths"]["/items/{item_id}"]
    assert one["get"]["parameters"] == [{"name": "item_id", "in": "path", "required": True,
                                         "schema": {"type": "integer", "title": "Item Id"}}]
    assert one["get"]["responses"]["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/HTTPError"}
    assert one["patch"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ItemPatch"}
    assert one["delete"]["responses"]["204"] == {"description": "Successful Response"}
    assert "422" not in doc["paths"]["/json"]["get"]["responses"]


def test_openapi_components_hold_item_its_input_forms_and_fastapis_errors(crest):
    schemas = document(crest)["components"]["schemas"]
    assert {"Item", "ItemIn", "ItemPatch", "HTTPValidationError", "ValidationError"} <= set(schemas)
    assert list(schemas) == sorted(schemas)
    item = schemas["Item"]
    assert list(item["properties"]) == ["id", "name", "description", "price", "tax", "tags"]
    assert item["required"] == ["id", "name", "price"]
    props = schemas["ItemIn"]["properties"]
    assert props["price"] == {"type": "number", "exclusiveMinimum": 0, "title": "Price"}
    assert props["description"] == {
        "anyOf": [{"type": "string", "maxLength": 1000}, {"type": "null"}],
        "title": "Description", "default": None}
    assert props["tags"]["items"] == {"type": "string", "minLength": 1, "maxLength": 50}
    assert props["tags"]["default"] == []
    assert "required" not in schemas["ItemPatch"]
    assert "default" not in schemas["ItemPatch"]["properties"]["description"]
    assert schemas["ValidationError"] == {
        "properties": {
            "loc": {"items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    "type": "array", "title": "Location"},
            "msg": {"type": "string", "title": "Message"},
            "type": {"type": "string", "title": "Error Type"},
        },
        "type": "object", "required": ["loc", "msg", "type"], "title": "ValidationError"}
    assert schemas["HTTPValidationError"] == {
        "properties": {"detail": {"items": {"$ref": "#/components/schemas/ValidationError"},
                                  "type": "array", "title": "Detail"}},
        "type": "object", "title": "HTTPValidationError"}


def test_openapi_422_shape_matches_what_crest_answers(crest):
    """The documented ValidationError is what a 422 actually holds."""
    schemas = document(crest)["components"]["schemas"]
    body = json.dumps({"price": -1}).encode()
    r = crest.request(b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    assert r.status == 422
    for problem in r.json()["detail"]:
        assert set(schemas["ValidationError"]["required"]) <= set(problem)
        assert all(isinstance(p, (str, int)) for p in problem["loc"])


def test_openapi_is_served_from_memory_unchanged(crest):
    first = crest.get("/openapi.json")
    with crest.conn() as c:
        again = c.request(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n")
        head = c.request(b"HEAD /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n", head_only=True)
    assert first.body == again.body
    assert head.status == 200 and head.header("Content-Length") == str(len(first.body))


def test_openapi_stays_when_docs_are_off(start_crest):
    srv = start_crest("--no-docs")
    assert document(srv)["openapi"] == "3.1.0"
    for path in ("/docs", "/redoc", "/docs/swagger-ui-bundle.js", "/docs/redoc.standalone.js"):
        assert srv.get(path).status == 404, path
