"""The items API over real sockets: every endpoint, every validation rule, FastAPI's (pydantic v2)
422 shapes, on each store: a real SQLite file and a real PostgreSQL database (db_flags in
tests/e2e/pg.py parametrises every test by backend)."""
import json

import pytest

from conftest import Conn
from pg import wait_store_up


def call(srv, method, path, body=None, raw_body=None):
    payload = raw_body if raw_body is not None else (
        json.dumps(body).encode() if body is not None else b"")
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
    if body is not None or raw_body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    with Conn(srv.port) as c:
        return c.request(head.encode() + b"\r\n" + payload)


def errors(r):
    assert r.status == 422, r
    return r.json()["detail"]


def locs(r):
    return sorted(tuple(e["loc"]) for e in errors(r))


ITEM = {"name": "Foo", "description": "A foo", "price": 35.4, "tax": 3.2, "tags": ["a", "b"]}


@pytest.fixture
def items(start_crest, db_flags):
    return wait_store_up(start_crest(*db_flags, workers=2))


def test_post_creates_item_with_201_location_and_all_fields(items):
    r = call(items, "POST", "/items", ITEM)
    assert r.status == 201
    item = r.json()
    assert item == {"id": item["id"], **ITEM}
    assert r.header("Location") == f"/items/{item['id']}"
    assert r.header("Content-Type") == "application/json"


def test_post_fills_defaults_for_absent_optional_fields(items):
    r = call(items, "POST", "/items", {"name": "Bar", "price": 1})
    assert r.status == 201
    item = r.json()
    assert item["description"] is None and item["tax"] is None and item["tags"] == []
    assert item["price"] == 1.0


def test_ids_are_assigned_from_one_up(items):
    ids = [call(items, "POST", "/items", {"name": f"n{i}", "price": 1}).json()["id"]
           for i in range(3)]
    assert ids == [1, 2, 3]


def test_get_returns_item_and_404_when_missing(items):
    created = call(items, "POST", "/items", ITEM).json()
    r = call(items, "GET", f"/items/{created['id']}")
    assert r.status == 200 and r.json() == created
    r = call(items, "GET", "/items/999")
    assert r.status == 404 and r.json() == {"detail": "Item not found"}


def test_get_with_non_integer_id_is_422_on_path(items):
    r = call(items, "GET", "/items/abc")
    assert errors(r) == [{"type": "int_parsing", "loc": ["path", "item_id"],
                          "msg": "Input should be a valid integer, unable to parse string as an "
                                 "integer", "input": "abc"}]


def test_list_pages_in_id_order_with_offset_and_limit(items):
    for i in range(5):
        call(items, "POST", "/items", {"name": f"n{i}", "price": 1})
    r = call(items, "GET", "/items")
    assert [i["name"] for i in r.json()] == [f"n{i}" for i in range(5)]
    r = call(items, "GET", "/items?offset=1&limit=2")
    assert [i["name"] for i in r.json()] == ["n1", "n2"]
    assert call(items, "GET", "/items?offset=10").json() == []


@pytest.mark.parametrize("query,loc,type_,ctx", [
    ("limit=0", "limit", "greater_than_equal", {"ge": 1}),
    ("limit=1001", "limit", "less_than_equal", {"le": 1000}),
    ("offset=-1", "offset", "greater_than_equal", {"ge": 0}),
])
def test_list_bounds_are_422_with_ctx(items, query, loc, type_, ctx):
    [e] = errors(call(items, "GET", f"/items?{query}"))
    assert e["loc"] == ["query", loc] and e["type"] == type_ and e["ctx"] == ctx
    assert e["input"] == query.split("=")[1]


def test_list_with_non_integer_limit_is_int_parsing(items):
    [e] = errors(call(items, "GET", "/items?limit=ten"))
    assert e["type"] == "int_parsing" and e["loc"] == ["query", "limit"]


def test_missing_required_fields_are_all_reported(items):
    detail = errors(call(items, "POST", "/items", {"description": "x"}))
    assert [(e["type"], e["loc"], e["msg"]) for e in detail] == [
        ("missing", ["body", "name"], "Field required"),
        ("missing", ["body", "price"], "Field required"),
    ]
    assert detail[0]["input"] == {"description": "x"}


@pytest.mark.parametrize("body,loc,type_,msg,ctx", [
    ({"name": "", "price": 1}, ["body", "name"], "string_too_short",
     "String should have at least 1 character", {"min_length": 1}),
    ({"name": "x" * 101, "price": 1}, ["body", "name"], "string_too_long",
     "String should have at most 100 characters", {"max_length": 100}),
    ({"name": 5, "price": 1}, ["body", "name"], "string_type", "Input should be a valid string",
     None),
    ({"name": "x", "price": 0}, ["body", "price"], "greater_than",
     "Input should be greater than 0", {"gt": 0}),
    ({"name": "x", "price": "10"}, ["body", "price"], "float_type",
     "Input should be a valid number", None),
    ({"name": "x", "price": 1, "tax": -1}, ["body", "tax"], "greater_than_equal",
     "Input should be greater than or equal to 0", {"ge": 0}),
    ({"name": "x", "price": 1, "description": "d" * 1001}, ["body", "description"],
     "string_too_long", "String should have at most 1000 characters", {"max_length": 1000}),
    ({"name": "x", "price": 1, "tags": "a"}, ["body", "tags"], "list_type",
     "Input should be a valid list", None),
    ({"name": "x", "price": 1, "tags": ["ok", ""]}, ["body", "tags", 1], "string_too_short",
     "String should have at least 1 character", {"min_length": 1}),
    ({"name": "x", "price": 1, "tags": ["t" * 51]}, ["body", "tags", 0], "string_too_long",
     "String should have at most 50 characters", {"max_length": 50}),
    ({"name": "x", "price": 1, "tags": [str(i) for i in range(17)]}, ["body", "tags"],
     "too_long", "List should have at most 16 items after validation, not 17",
     {"field_type": "List", "max_length": 16, "actual_length": 17}),
    ({"name": "x", "price": None}, ["body", "price"], "float_type",
     "Input should be a valid number", None),
])
def test_each_rule_gives_pydantic_v2_error(items, body, loc, type_, msg, ctx):
    [e] = errors(call(items, "POST", "/items", body))
    assert e["loc"] == loc and e["type"] == type_ and e["msg"] == msg
    assert e.get("ctx") == ctx


def test_string_lengths_count_code_points_not_bytes(items):
    assert call(items, "POST", "/items", {"name": "é" * 100, "price": 1}).status == 201
    [e] = errors(call(items, "POST", "/items", {"name": "é" * 101, "price": 1}))
    assert e["type"] == "string_too_long"


def test_integral_float_and_unknown_fields(items):
    r = call(items, "POST", "/items", {"name": "x", "price": 2, "unknown": [1, 2]})
    assert r.status == 201 and "unknown" not in r.json()


def test_body_that_is_not_json_is_json_invalid_with_byte_offset(items):
    [e] = errors(call(items, "POST", "/items", raw_body=b'{"name": }'))
    assert e["type"] == "json_invalid" and e["loc"] == ["body", 9]
    assert e["msg"] == "JSON decode error" and e["input"] == {}
    assert e["ctx"]["error"]


def test_body_that_is_not_an_object_is_422_on_body(items):
    [e] = errors(call(items, "POST", "/items", [1, 2]))
    assert e["type"] == "model_attributes_type" and e["loc"] == ["body"] and e["input"] == [1, 2]


def test_missing_body_is_422_missing_on_body(items):
    r = call(items, "POST", "/items")
    assert errors(r) == [{"type": "missing", "loc": ["body"], "msg": "Field required",
                          "input": None}]


def test_path_query_and_body_errors_come_in_one_422(items):
    r = call(items, "PUT", "/items/abc", {"price": -1})
    assert locs(r) == [("body", "name"), ("body", "price"), ("path", "item_id")]


def test_put_replaces_every_field(items):
    created = call(items, "POST", "/items", ITEM).json()
    r = call(items, "PUT", f"/items/{created['id']}", {"name": "New", "price": 2})
    assert r.status == 200
    assert r.json() == {"id": created["id"], "name": "New", "description": None, "price": 2.0,
                        "tax": None, "tags": []}
    assert call(items, "GET", f"/items/{created['id']}").json() == r.json()


def test_put_on_missing_id_is_404_but_invalid_body_is_422_first(items):
    assert call(items, "PUT", "/items/999", {"name": "x", "price": 1}).status == 404
    assert call(items, "PUT", "/items/999", {"name": "x"}).status == 422


@pytest.mark.parametrize("patch", [{"name": "N"}, {"description": None}, {"price": 9.5},
                                   {"tax": None}, {"tax": 1.0}, {"tags": ["z"]}, {}])
def test_patch_sets_only_the_fields_sent(items, patch):
    created = call(items, "POST", "/items", ITEM).json()
    r = call(items, "PATCH", f"/items/{created['id']}", patch)
    assert r.status == 200
    assert r.json() == {**created, **patch}


@pytest.mark.parametrize("field", ["name", "price", "tags"])
def test_patch_cannot_null_required_fields(items, field):
    created = call(items, "POST", "/items", ITEM).json()
    [e] = errors(call(items, "PATCH", f"/items/{created['id']}", {field: None}))
    assert e["loc"] == ["body", field]


def test_patch_on_missing_id_is_404(items):
    assert call(items, "PATCH", "/items/999", {"name": "x"}).status == 404


def test_delete_is_204_then_404(items):
    created = call(items, "POST", "/items", ITEM).json()
    r = call(items, "DELETE", f"/items/{created['id']}")
    assert r.status == 204 and r.body == b"" and r.header("Content-Length") is None
    assert call(items, "GET", f"/items/{created['id']}").status == 404
    assert call(items, "DELETE", f"/items/{created['id']}").status == 404


def test_other_methods_on_items_are_405(items):
    r = call(items, "DELETE", "/items")
    assert r.status == 405 and r.json() == {"detail": "Method Not Allowed"}
    assert "GET" in r.header("Allow") and "POST" in r.header("Allow")


def test_items_survive_a_restart(start_crest, db_flags):
    first = wait_store_up(start_crest(*db_flags, workers=1))
    created = call(first, "POST", "/items", ITEM).json()
    assert first.stop() == 0
    second = wait_store_up(start_crest(*db_flags, workers=1))
    assert call(second, "GET", f"/items/{created['id']}").json() == created


def test_a_number_too_large_for_a_double_is_refused_as_not_finite(items):
    [e] = errors(call(items, "POST", "/items", raw_body=b'{"name": "x", "price": 1e400}'))
    assert e["type"] == "finite_number" and e["loc"] == ["body", "price"]
    assert e["msg"] == "Input should be a finite number"
