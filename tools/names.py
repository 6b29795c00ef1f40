#!/usr/bin/env python3
"""tools/names.py: checks that a function's name says where it is defined (STYLE.md, "Naming"):
an internal function of src/ROOM/FILE.c is named ROOM_FILE_* (ROOM_* in ROOM/ROOM.c, the room's
main file), and a public one (CREST_API) starts with the crest_ prefix the table below gives its
file. Run by ctest (test_names); prints each offending name and exits 1. --list prints the public
table (docs/architecture.md shows it).

The rooms below the framework (mem, obs, net, http), db and the programs on top (items, cli)
predate the rule for internal names and are not checked for it yet; public names are checked
everywhere."""
import os
import re
import sys

# crest.h's names by prefix: the longest matching prefix names the file (docs/architecture.md)
PUBLIC = [
    ("crest_app_add_builtin_routes", "ops/builtin.c"),
    ("crest_app_add_debug_routes", "ops/debug.c"),
    ("crest_app_add_docs_routes", "openapi/docs.c"),
    ("crest_app_add_static", "app/static.c"),
    ("crest_app_add_cors", "mw/cors.c"),
    ("crest_app_add_db", "db/db.c"),
    ("crest_app_add_gzip", "mw/gzip.c"),
    ("crest_app_add_rate_limit", "mw/rate.c"),
    ("crest_app_trust_proxies", "mw/proxy.c"),
    ("crest_app_add_request_id", "mw/request_id.c"),
    ("crest_security_", "mw/security.c"),
    ("crest_app_", "app/app.c"),
    ("crest_docs_", "openapi/docs.c"),
    ("crest_config_", "serve/serve.c"),
    ("crest_config_args", "serve/args.c"),
    ("crest_config_usage", "serve/args.c"),
    ("crest_serve", "serve/serve.c"),
    ("crest_json_", "json/"),
    ("crest_req_", "req/request.c"),
    ("crest_req_next", "app/dispatch.c"),
    ("crest_req_client", "req/request.c"),
    ("crest_req_id", "req/request.c"),
    ("crest_req_cookie", "req/cookie.c"),
    ("crest_path_", "req/path.c"),
    ("crest_query_", "req/query.c"),
    ("crest_param_", "valid/params.c"),
    ("crest_req_model", "valid/bind.c"),
    ("crest_req_query_model", "valid/bind.c"),
    ("crest_model_", "valid/model.c"),
    ("crest_json_model", "valid/model.c"),
    ("crest_json_row", "valid/model.c"),
    ("crest_res_model", "valid/model.c"),
    ("crest_res_rows", "valid/model.c"),
    ("crest_res_", "req/response.c"),
    ("crest_res_file", "req/file.c"),
    ("crest_file_", "req/file.c"),
    ("crest_stream_", "http/stream.c"),
    ("crest_ws_", "http/ws.c"),
    ("crest_sse_", "http/sse.c"),
    ("crest_req_body_", "http/upload.c"),
    ("crest_multipart_", "req/multipart.c"),
    ("crest_test_", "serve/testclient.c"),
    ("crest_rss_", "obs/proc.c"),
    ("crest_report_", "obs/proc.c"),
    ("crest_watch_", "net/watch.c"),
    ("crest_timer_", "net/timer.c"),
    ("crest_async_", "net/async.c"),
    ("crest_work_", "net/work.c"),
    ("crest_db_", "db/db.c"),
    ("crest_db_answer", "db/answer.c"),
    ("crest_pq_", "db/pg_alloc.c"),
]
DEF = re.compile(r"^(CREST_API )?(?!static\b)[A-Za-z_][^;(=]*?\b([a-z_][a-z0-9_]*)\(", re.M)


# rooms whose internal names follow ROOM_FILE_*
CHECKED = {"json", "route", "req", "valid", "app", "openapi", "ops", "mw", "serve"}


def public_file(name):
    best = None
    for prefix, where in PUBLIC:
        if name.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, where)
    return best[1] if best else None


def main(src):
    bad = []
    for room in sorted(os.listdir(src)):
        for fname in sorted(os.listdir(os.path.join(src, room))):
            if not fname.endswith(".c"):
                continue
            rel = f"{room}/{fname}"
            with open(os.path.join(src, room, fname), encoding="utf-8") as f:
                lines = f.read().split("\n")
            stem = fname[:-2]
            for i, line in enumerate(lines[:-1]):
                m = DEF.match(line)
                if not m or lines[i + 1] != "{" and not line.rstrip().endswith(","):
                    continue
                # a definition: its body opens at column 0 within the next lines
                j = i + 1
                while j < len(lines) and lines[j] != "{" and not lines[j].startswith(" "):
                    j += 1
                if j < len(lines) and lines[j].startswith(" "):
                    while j < len(lines) and lines[j].startswith(" "):
                        j += 1
                if j >= len(lines) or lines[j] != "{":
                    continue
                name = m.group(2)
                if name == "main" and room == "cli":
                    continue
                if m.group(1):
                    where = public_file(name)
                    if not where or not (rel == where or (where.endswith("/") and
                                                           rel.startswith(where))):
                        bad.append(f"src/{rel}: public {name} (its prefix says {where})")
                elif room in CHECKED:
                    want = room + "_" if stem == room else f"{room}_{stem}"
                    if not name.startswith(want):
                        bad.append(f"src/{rel}: {name} (want {want}*)")
    for line in bad:
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    if "--list" in sys.argv:
        for prefix, where in PUBLIC:
            print(f"| `{prefix}` | `src/{where}` |")
        sys.exit(0)
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    sys.exit(main(args[0] if args else
                  os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")))
