#!/usr/bin/env python3
"""tools/layers.py: checks that src/'s #includes point only down the rooms' order, with no cycle
of includes, and (--calls OBJDIR, from a build's objects) that calls do too, with no cycle of calls
among files (docs/architecture.md). Run by ctest (test_layers, test_layers_calls); prints each
offence and exits 1.

A room may include its own headers and those of any room below it, never one beside it."""
import os
import re
import sys

# lowest first; rooms on one line share a level; each with its one-line purpose
ORDER = [
    [("mem", "accounting allocator (tags, per-thread counters, budget), arenas, pools, buffers")],
    [("json", "JSON text to values (strict RFC 8259, into an arena) and values to text")],
    [("obs", "/proc readers, per-worker stats, memory report, Prometheus text format")],
    [("net", "epoll loop, timers, workers, connection table; the loop API and blocking pool")],
    [("http", "request parser, Host grammar, chunked decoder, sessions, responses, streamed bodies")],
    [("route", "route templates compiled and matched, method names")],
    [("req", "the request a handler reads, the response it writes, query and scalar decoding")],
    [("valid", "validation with pydantic's rules and vocabulary, the 422 problem list, models")],
    [("app", "an application: routes, parts, worker hooks; dispatch from request to handler")],
    [("openapi", "the OpenAPI 3.1 document, /docs and /redoc"),
     ("db", "the application's databases: SQLite (writer thread) and PostgreSQL (in the loop)"),
     ("mw", "built-in middleware: CORS, security schemes, gzip, rate limits, proxies, request IDs"),
     ("ops", "built-in routes, /metrics, /debug/memory, access log, budget and memory log")],
    [("serve", "start-up: crest_serve and the in-process test client")],
    [("items", "the reference items service")],
    [("cli", "the crest binary: flags, startup report, crest mem")],
]
PURPOSE = {room: purpose for rooms in ORDER for room, purpose in rooms}
ORDER = [[room for room, _ in rooms] for rooms in ORDER]
LEVEL = {room: i for i, rooms in enumerate(ORDER) for room in rooms}
INCLUDE = re.compile(r'^#include "([a-z_]+)/([a-z_0-9]+\.h)"', re.M)


def cycles(graph):
    """Each cycle a depth-first walk of graph (node -> set of nodes) meets, as "a -> b -> a"."""
    state, found = {}, []

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def main(src):
    bad = []
    graph = {}
    for room in sorted(os.listdir(src)):
        if room not in LEVEL:
            bad.append(f"src/{room}/: a room missing from tools/layers.py's ORDER")
            continue
        for name in sorted(os.listdir(os.path.join(src, room))):
            path = f"{room}/{name}"
            with open(os.path.join(src, room, name), encoding="utf-8") as f:
                text = f.read()
            for inc_room, inc_name in INCLUDE.findall(text):
                target = f"{inc_room}/{inc_name}"
                graph.setdefault(path, set()).add(target)
                if inc_room not in LEVEL:
                    bad.append(f"src/{path}: includes {target}, of no known room")
                elif LEVEL[inc_room] > LEVEL[room]:
                    bad.append(f"src/{path}: includes {target}, a room above {room}/")
                elif LEVEL[inc_room] == LEVEL[room] and inc_room != room:
                    bad.append(f"src/{path}: includes {target}, a room beside {room}/")
    # a cycle among headers (a .h that, through others, includes itself)
    bad += ["include cycle: " + c for c in cycles(graph)]
    for line in bad:
        print(line)
    return 1 if bad else 0


# the framework's rooms, where files call each other in no cycle (db's pg.c and pg_conn.c, a
# connection and its pool, call each other by design)
ACYCLIC = {"json", "route", "req", "valid", "app", "openapi", "ops", "mw", "serve"}


def calls(objdir, src):
    """From the objects of a build (nm): which file calls which. Refuses a call from a room into a
    room above it, and a cycle of calls among files (A calls B, B calls ... A)."""
    import subprocess
    defined, undefined = {}, {}
    for d, _, names in os.walk(objdir):
        for n in names:
            if not n.endswith(".c.o"):
                continue
            path = os.path.join(d, n)
            rel = os.path.relpath(path, objdir)[:-2]  # room/file.c
            if not os.path.exists(os.path.join(src, rel)):
                continue  # an object left from a file since moved
            out = subprocess.run(["nm", path], capture_output=True, text=True, check=True).stdout
            undefined[rel] = set()
            for line in out.splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] == "U":
                    undefined[rel].add(parts[1])
                elif len(parts) == 3 and parts[1] in "TDBR":
                    defined[parts[2]] = rel
    graph = {f: {defined[s] for s in syms if s in defined and defined[s] != f}
             for f, syms in undefined.items()}
    acyclic = {f: {t for t in ts if t.split("/")[0] in ACYCLIC}
               for f, ts in graph.items() if f.split("/")[0] in ACYCLIC}
    bad = []
    for f, targets in sorted(graph.items()):
        for t in sorted(targets):
            rf, rt = f.split("/")[0], t.split("/")[0]
            if rf in LEVEL and rt in LEVEL and LEVEL[rt] > LEVEL[rf]:
                bad.append(f"src/{f}: calls into src/{t}, a room above")
    bad += ["call cycle: " + c for c in cycles(acyclic)]
    for line in bad:
        print(line)
    return 1 if bad else 0


def tree(src, counts=True):
    """The rooms, top first, with their purpose (and lines and files): the README's layout block
    is the list without counts, so that it changes only when a room does."""
    out = []
    for rooms in reversed(ORDER):
        for room in rooms:
            d = os.path.join(src, room)
            names = sorted(os.listdir(d))
            lines = 0
            for n in names:
                with open(os.path.join(d, n), encoding="utf-8") as f:
                    lines += sum(1 for _ in f)
            size = f"{lines:6d} lines {len(names):3d} files  " if counts else ""
            out.append(f"src/{room + '/':9s}{size}{PURPOSE[room]}")
    return "\n".join(out) + "\n"


README_BEGIN = "<!-- layout: begin (python3 tools/layers.py --readme README.md) -->\n```\n"
README_END = "```\n<!-- layout: end -->"


def readme(path, src, check):
    """Writes (or with check, compares) the layout block of the README."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start, end = text.index(README_BEGIN) + len(README_BEGIN), text.index(README_END)
    want = tree(src, counts=False)
    if check:
        if text[start:end] != want:
            print(f"{path}: the layout block is stale: run python3 tools/layers.py --readme {path}")
            return 1
        return 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(text[:start] + want + text[end:])
    return 0


if __name__ == "__main__":
    SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
    if len(sys.argv) > 1 and sys.argv[1] == "--tree":
        sys.stdout.write(tree(SRC))
        sys.exit(0)
    if len(sys.argv) > 2 and sys.argv[1] == "--calls":
        sys.exit(calls(sys.argv[2], SRC))
    if len(sys.argv) > 2 and sys.argv[1] in ("--readme", "--check-readme"):
        sys.exit(readme(sys.argv[2], SRC, sys.argv[1] == "--check-readme"))
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else SRC))
