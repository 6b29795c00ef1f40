#!/usr/bin/python3
"""Writes tools/hot-text.txt: the code a crest application runs to start and to serve, found by
running real applications under valgrind's callgrind.

Why: crest's binaries are static, and the kernel maps a file's pages around each page fault (64 KB
windows). Code laid out in link order spreads what a server runs over every window of its text, so
nearly the whole binary ends up in RSS (the TechEmpower example on SQLite: 1.7 MB of 2.3 MB of text
resident, while the functions it had run came to 0.5 MB). The build uses this list twice:

- `section NAME`: a section of libcrest's prelinked object (crest, SQLite, libpq). CMake's prelink
  step renames the Nth .text.NAME to .text.sorted.N.NAME (N zero-padded); the default GNU ld script places every
  .text.sorted.* section together at the front of .text, sorted by name, in any application
  linked against libcrest.a, with no option on its side. --gc-sections still drops the ones it
  does not reach.
- `archive ARCHIVE:MEMBER`: a member of the static libc.a or libgcc. The build writes crest-hot.ld,
  a linker script that only INSERTs one output section of these members before .text; crest and
  the examples (static links) put it on their link line, an application linked statically can
  too (crest.pc's variable hot_ld).

The list is a build input, produced only by this command (never edited by hand):

    python3 tools/hot-text.py            # needs build/ (make build), valgrind, PostgreSQL 15

Workloads: the items service (build/crest) on SQLite and PostgreSQL, the TechEmpower example on
both, the notes example (models, security, CORS) and hello; each is started, sent the requests of
its tests (health, metrics, reads, writes, errors), and stopped. A function any of them ran is hot.
"""

import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
OUT = os.path.join(REPO, "tools", "hot-text.txt")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port, method, path, body=None, headers=None):
    """One request on a keep-alive connection the client then closes, as browsers and load
    generators do (urllib would ask the server to close it instead: another path)."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    headers = dict(headers or {})
    if data is not None:
        headers.setdefault("Content-Type", "application/json")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def profile(name, argv, env, requests, tmp):
    """Runs argv under callgrind, sends requests(port) and returns the names of every function
    it ran."""
    port = free_port()
    out = os.path.join(tmp, "cg.%s" % name)
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + \
        [a.replace("PORT", str(port)) for a in argv]
    log = open(os.path.join(tmp, "log.%s" % name), "w")
    proc = subprocess.Popen(cmd, env=dict(os.environ, **env), stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if call(port, "GET", "/healthz")[0] in (200, 404):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("%s did not start: see %s" % (name, log.name))
            time.sleep(0.2)
        requests(port)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    names = set()
    for line in open(out):
        m = re.match(r"^c?fn=\(\d+\)(?: (.*))?$", line)
        if m and m.group(1):
            names.add(m.group(1).strip())
    print("hot-text: %s ran %d functions" % (name, len(names)), file=sys.stderr)
    return names


def expect(answer, status, what=""):
    """A workload that does not do what it should would profile its error path instead."""
    if answer[0] != status:
        raise RuntimeError("%s: expected %d, got %d: %r" % (what, status, answer[0], answer[1][:200]))
    return answer


def items_requests(port):
    call(port, "GET", "/metrics")
    call(port, "GET", "/openapi.json")
    for i in range(3):
        expect(call(port, "POST", "/items", {"name": "n%d" % i, "price": 1.5 + i}), 201)
    call(port, "GET", "/items")
    expect(call(port, "GET", "/items/1"), 200)
    call(port, "PUT", "/items/1", {"name": "m", "price": 2})
    call(port, "PATCH", "/items/2", {"price": 3})
    call(port, "DELETE", "/items/3")
    call(port, "GET", "/items/999")
    call(port, "POST", "/items", {"name": 5})
    call(port, "POST", "/items", b"{bad")
    call(port, "GET", "/nope")


def tfb_requests(port):
    for path in ["/json", "/plaintext", "/db", "/queries?queries=5", "/queries?queries=x",
                 "/fortunes", "/updates?queries=5", "/updates?queries=600"]:
        expect(call(port, "GET", path), 200, path)  # TechEmpower clamps bad counts
        call(port, "GET", path)


def notes_requests(port):
    s, b = expect(call(port, "POST", "/users", {"email": "A%d@Example.COM" % port,
                                                  "name": "ann"}), 201)
    auth = {"Authorization": "Bearer " + json.loads(b)["api_key"], "Origin": "http://x.test"}
    expect(call(port, "POST", "/notes", {"title": "t", "body": "b"}, auth), 201)
    call(port, "GET", "/notes?limit=5", None, auth)
    call(port, "PATCH", "/notes/1", {"title": "u"}, auth)
    call(port, "GET", "/notes/1", None, auth)
    call(port, "DELETE", "/notes/1", None, auth)
    call(port, "GET", "/notes", None, {"Authorization": "Bearer nope"})
    call(port, "POST", "/notes", {"title": 3}, auth)
    call(port, "OPTIONS", "/notes", None, {"Origin": "http://x.test",
                                           "Access-Control-Request-Method": "POST"})


def hello_requests(port):
    call(port, "GET", "/")
    call(port, "GET", "/metrics")


def static_members():
    """The static archives every static crest binary links (libc, libgcc's unwinder):
    symbol -> "ARCHIVE:MEMBER", and each archive's members."""
    symbols, members = {}, {}
    for archive in ("libc.a", "libgcc_eh.a", "libgcc.a"):
        path = subprocess.run(["cc", "-print-file-name=" + archive], capture_output=True,
                              text=True).stdout.strip()
        out = subprocess.run(["nm", "-A", "--defined-only", path], capture_output=True, text=True)
        for line in out.stdout.splitlines():
            m = re.match(r"^[^:]*:([^:]+):\s*[0-9a-f]*\s+[TtWi]\s+(\S+)$", line)
            if m:
                symbols.setdefault(m.group(2), "%s:%s" % (archive, m.group(1)))
                members.setdefault(archive, set()).add(m.group(1))
    return symbols, members


# glibc's string functions come in variants (memmove-avx512-unaligned-erms.o, ...-sse2-...) that
# an IFUNC resolver picks by CPU at start: valgrind's CPU is not this machine's, so every variant
# of a hot family is hot
VARIANT = re.compile(r"^(.+?)-(?:sse|ssse|avx|evex)")


def with_variants(member, members):
    archive, name = member.split(":")
    m = VARIANT.match(name)
    if not m:
        return [member]
    return ["%s:%s" % (archive, n) for n in sorted(members[archive])
            if VARIANT.match(n) and VARIANT.match(n).group(1) == m.group(1)]


def origins(build):
    """function symbol -> its place in the layout: 0 libpq, 1 crest, 2 SQLite. Whatever an
    application's database, its code and crest's are contiguous, and the application's own code
    (.text, right after) follows SQLite's: a SQLite application runs one dense stretch, a
    PostgreSQL one skips SQLite's (windows it does not touch cost nothing)."""
    import glob
    rank = {}
    for i, pattern in ((0, "deps/libpq-*/lib/*.a"), (2, "deps/sqlite-*/lib/*.a")):
        for path in glob.glob(os.path.join(build, pattern)):
            out = subprocess.run(["nm", "--defined-only", path], capture_output=True, text=True)
            for line in out.stdout.splitlines():
                p = line.split()
                if len(p) == 3:
                    rank[p[2]] = i
    return rank


def sections_of_prelink(build):
    """libcrest's prelinked object: function symbol -> its section."""
    out = subprocess.run(["objdump", "-t", os.path.join(build, "crest_prelink.o")],
                         capture_output=True, text=True, check=True)
    secs = {}
    for line in out.stdout.splitlines():
        p = [f for f in line.split() if f not in (".hidden", ".protected", ".internal")]
        # "0000000000000000 l     F .text.name  0000000000000012 [.hidden] name"
        if len(p) >= 5 and "F" in p[1:-3] and p[-3].startswith(".text"):
            sec = p[-3]
            sec = re.sub(r"^\.text\.sorted\.\d+\.", ".text.", sec)  # as the build renamed it
            if sec not in (".text", ".text.unlikely") and not sec.startswith(".text.unlikely."):
                secs[p[-1]] = sec
    return secs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    args = ap.parse_args()
    import pg  # tests/e2e/pg.py: a PostgreSQL cluster of our own
    b = args.build
    names = {}
    with tempfile.TemporaryDirectory() as tmp:
        cluster = pg.new_cluster()
        try:
            # a database each: the items service and the example keep their own migrations
            items_url, tfb_url = (cluster.url(cluster.create_database(p)) for p in ("items", "tfb"))
            runs = [
                ("items-sqlite", [b + "/crest", "serve", "--host", "127.0.0.1", "--port", "PORT",
                                  "--workers", "2", "--db", tmp + "/items.db"], {},
                 items_requests),
                ("items-pg", [b + "/crest", "serve", "--host", "127.0.0.1", "--port", "PORT",
                              "--workers", "2", "--db", items_url], {}, items_requests),
                ("tfb-sqlite", [b + "/examples/tfb", "--host", "127.0.0.1", "--port", "PORT",
                                "--workers", "2"], {"DATABASE_URL": tmp + "/tfb.db"},
                 tfb_requests),
                ("tfb-pg", [b + "/examples/tfb", "--host", "127.0.0.1", "--port", "PORT",
                            "--workers", "2"], {"DATABASE_URL": tfb_url}, tfb_requests),
                ("notes", [b + "/examples/notes", "--host", "127.0.0.1", "--port", "PORT",
                           "--db", tmp + "/notes.db"], {}, notes_requests),
                ("hello", [b + "/examples/hello", "--port", "PORT"], {}, hello_requests),
            ]
            # the SQLite applications again on the files they made: what a restart runs
            runs += [(name + "-again", argv, env, requests)
                     for name, argv, env, requests in runs if name in ("items-sqlite",
                                                                       "tfb-sqlite", "notes")]
            for name, argv, env, requests in runs:
                names[name] = profile(name, argv, env, requests, tmp)
        finally:
            cluster.destroy()
    secs = sections_of_prelink(b)
    rank = origins(b)
    symbols, members = static_members()
    # the layout: libpq's hot code, crest's, SQLite's (origins() says why); in each, what more workloads ran first (the engine, then
    # what only some applications run), then the prelinked object's order, which keeps a source
    # file's functions together; then the static libraries' members, the most run first
    hot = {}
    for name, ran in names.items():
        for n in ran:
            if n in secs:
                hot.setdefault(("section", secs[n]), [rank.get(re.sub(r"\..*", "", n), 1),
                                                      secs[n], set()])[2].add(name)
            elif n in symbols:
                for member in with_variants(symbols[n], members):
                    hot.setdefault(("archive", member), [9, member, set()])[2].add(name)
    order = sorted(hot, key=lambda k: layout_key(b, k, hot[k]))
    with open(OUT, "w") as f:
        f.write("# Written by tools/hot-text.py (do not edit): the code crest's applications ran to "
                "start and serve,\n# in layout order.\n")
        for kind, what in order:
            f.write("%s %s\n" % (kind, what))
    print("hot-text: %d sections of libcrest, %d members of static libraries -> %s"
          % (sum(k[0] == "section" for k in order), sum(k[0] == "archive" for k in order),
             os.path.relpath(OUT, REPO)), file=sys.stderr)


def layout_key(build, key, info):
    origin, what, ran_in = info
    if key[0] == "section":
        return (origin, 0, -len(ran_in), index_of(build, what), "")
    # the variants of the string functions last, by instruction set then function: a CPU picks
    # the same set for nearly all of them, so the ones it runs sit together
    m = KIND.search(what.split(":")[1])
    if m:
        return (origin, 1, 0, 0, m.group(1) + " " + what)
    return (origin, 0, -len(ran_in), 0, what)


KIND = re.compile(r"-(avx512|avx2|avx|evex512|evex|ssse3|sse4_2|sse4|sse2|sse)")


_INDEX = {}


def index_of(build, section):
    """A section's place in the prelinked object (the inputs' order)."""
    if not _INDEX:
        out = subprocess.run(["readelf", "-SW", os.path.join(build, "crest_prelink.o")],
                             capture_output=True, text=True, check=True)
        for line in out.stdout.splitlines():
            m = re.match(r"^\s*\[\s*(\d+)\]\s+(\S+)", line)
            if m:
                name = re.sub(r"^\.text\.sorted\.\d+\.", ".text.", m.group(2))
                _INDEX.setdefault(name, int(m.group(1)))
    return _INDEX.get(section, 0)


if __name__ == "__main__":
    main()
