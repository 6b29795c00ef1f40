#!/usr/bin/python3
"""bench/compare.py: the seed's memory comparison, reproduced side by side (`make bench`).

Every server answers GET /json -> {"message":"Hello, World!"}: crest, FastAPI + uvicorn three
ways (plain h11; tuned with uvloop, httptools and ujson; on PyPy) and the FastAPI items app, Go
net/http, embedded Jetty 9 and the JDK's com.sun.net.httpserver, Express and Fastify, nginx and h2o
as references, and the C frameworks kore and ulfius. Each is installed here (Debian packages
through tools/ensure-packages.sh, npm through tools/npm-ci.sh), built into the build directory,
started alone pinned to CPU 0 with wrk on CPU 1, measured and stopped by its pid:

  RSS at ready (psutil's RSS summed over the process tree, 1 s after the first 200) and PSS;
  the time from the start to that first answer; wrk -t1 --latency, keep-alive: requests/s,
  p50 and p99; RSS after the load; bytes per idle keep-alive connection; and, for crest and the
  FastAPI items app, GET /items/{id} and POST /items requests/s (bench/items.py's method).

It writes bench/results/latest.md and two SVG charts beside it (memory, requests/s). A peer that
cannot be installed, built or started gets a row saying why; the others still run. A benchmark,
not a test: it exits 0 once it has written the report.

Run: /usr/bin/python3 bench/compare.py --crest build/crest [--peers crest,nginx,...]
     [--seconds 10] [--conns 100] [--idle-conns 5000] [--smoke] [--out-dir bench/results]
"""

import argparse
import datetime
import glob
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no bench/__pycache__ from importing the modules below
sys.path.insert(0, BENCH_DIR)
import charts  # noqa: E402  (the SVG charts)
import items  # noqa: E402  (GET /items/{id} and POST /items under wrk, after seeding)
import lib  # noqa: E402  (servers as children, memory, wrk, idle connections)
import soak  # noqa: E402  (crest's argv with its SQLite file)

REPO_DIR = lib.REPO_DIR
PEERS_DIR = os.path.join(BENCH_DIR, "peers")
ENSURE = os.path.join(REPO_DIR, "tools", "ensure-packages.sh")
NPM_CI = os.path.join(REPO_DIR, "tools", "npm-ci.sh")
PYTHON = "/usr/bin/python3"
DIST_PACKAGES = "/usr/lib/python3/dist-packages"  # Debian's pure-Python packages, for PyPy
BASE_DEBS = ["wrk", "python3-psutil", "python3-matplotlib"]
FASTAPI_DEBS = ["python3-fastapi", "python3-uvicorn"]
JETTY_JARS = ("jetty9-server", "jetty9-servlet", "jetty9-util", "jetty9-http", "jetty9-io",
              "jetty9-security", "servlet-api")
KEEP_ALIVE_S = 120  # peers whose default idle timeout would end the idle test get this one
SEED_RSS_SPRING_BOOT = "~300 MB"  # quoted from the seed article, never measured here


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(argv, what, env=None, cwd=None, timeout=600):
    """Runs a build or install step; raises lib.Unavailable with its last output line."""
    try:
        out = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd,
                             timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise lib.Unavailable("%s: %s" % (what, e))
    if out.returncode != 0:
        lines = [l.strip() for l in (out.stderr + out.stdout).splitlines() if l.strip()]
        why = lines[-1][:160] if lines else "exit %d" % out.returncode
        where = [l for l in lines if l.startswith('File "')]  # a Python traceback's last frame
        if where:
            why += " (%s)" % where[-1].replace('File "', "").replace('"', "")
        raise lib.Unavailable("%s failed: %s" % (what, why))
    return out.stdout


def ensure_debs(debs):
    """Installs missing Debian packages (as root) or raises Unavailable naming them."""
    if debs:
        run(["sh", ENSURE] + list(debs), "installing %s" % " ".join(debs))


def deb_version(pkg):
    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                         text=True)
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "?"


# ---------------------------------------------------------------------------------------------
# The peers: what each needs, how it is built and started. prepare(ctx) builds what must be built
# and returns the build function lib.Server runs at each start: (tmp, port) -> argv.


class Ctx:
    def __init__(self, args):
        self.crest = args.crest
        self.build_dir = args.build_dir
        self.idle_conns = args.idle_conns

    def out(self, *parts):
        path = os.path.join(self.build_dir, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path


def prepare_crest(ctx):
    return soak.crest_items_argv(ctx.crest, 1)


def fastapi_json(python, tuned, env=None):
    """prepare() of the FastAPI JSON app under the given interpreter."""
    def prepare(ctx):
        run([python, "-c", "import fastapi, uvicorn" + (", uvloop, httptools, ujson"
                                                           if tuned else "")],
            "importing Debian's FastAPI and uvicorn with %s (%s)"
            % (os.path.basename(python), lib.first_line([python, "-V"]).split(" (")[0]),
            env=env)

        def build(tmp, port):
            argv = [python, os.path.join(PEERS_DIR, "json_fastapi.py"), "--port", str(port),
                    "--timeout-keep-alive", str(KEEP_ALIVE_S)]
            return argv + (["--tuned"] if tuned else [])
        return build
    return prepare


PYPY_ENV = {"PYTHONPATH": DIST_PACKAGES}


def prepare_fastapi_items(ctx):
    """bench/peers/items_fastapi.py through uvicorn's command line, for its keep-alive flag."""
    run([PYTHON, "-c", "import fastapi, uvicorn"], "importing FastAPI and uvicorn")

    def build(tmp, port):
        return [PYTHON, "-m", "uvicorn", "--app-dir", PEERS_DIR, "items_fastapi:app",
                "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                "--no-access-log", "--timeout-keep-alive", str(KEEP_ALIVE_S)]
    return build


def prepare_go(ctx):
    binary = ctx.out("go", "json-go")
    env = dict(os.environ, GOCACHE=ctx.out("go", "cache"), GOPATH=ctx.out("go", "path"),
               GOPROXY="off", GOFLAGS="", CGO_ENABLED="0")
    run(["go", "build", "-o", binary, "main.go"], "go build", env=env,
        cwd=os.path.join(PEERS_DIR, "go"))
    return lambda tmp, port: [binary, "-port", str(port)]


def jetty_classpath():
    return ":".join("/usr/share/java/%s.jar" % j for j in JETTY_JARS)


def java_prepare(main_class, classpath):
    def prepare(ctx):
        classes = ctx.out("java", main_class)
        os.makedirs(classes, exist_ok=True)
        argv = ["javac", "-d", classes, os.path.join(PEERS_DIR, "java", main_class + ".java")]
        run(argv + (["-cp", classpath] if classpath else []), "javac %s" % main_class)
        cp = classes + (":" + classpath if classpath else "")
        # The JDK's server keeps at most 200 idle connections and closes them after 30 s by
        # default; Jetty's own limits are above the test's. JVM defaults otherwise.
        props = ["-Dsun.net.httpserver.maxIdleConnections=%d" % (ctx.idle_conns + 1024),
                 "-Dsun.net.httpserver.idleInterval=%d" % KEEP_ALIVE_S]
        return lambda tmp, port: ["java"] + props + ["-cp", cp, main_class, str(port)]
    return prepare


def prepare_express(ctx):
    run(["node", "-e", "require('express')"], "loading Debian's express",
        env=dict(os.environ, NODE_PATH="/usr/share/nodejs"))
    return lambda tmp, port: ["node", os.path.join(PEERS_DIR, "node", "express.js"), str(port)]


def fastify_modules(ctx):
    return os.path.join(ctx.build_dir, "node", "node_modules")


def prepare_fastify(ctx):
    if not shutil.which("npm"):
        ensure_debs(["npm"])
    run(["sh", NPM_CI, os.path.join(PEERS_DIR, "node"), os.path.join(ctx.build_dir, "node")],
        "npm ci (bench/peers/node/package-lock.json)")
    return lambda tmp, port: ["node", os.path.join(PEERS_DIR, "node", "fastify.js"), str(port)]


def prepare_nginx(ctx):
    return lib.make_build_nginx(ctx.idle_conns)


def prepare_h2o(ctx):
    return lib.make_build_h2o(ctx.idle_conns)


def prepare_kore(ctx):
    so = ctx.out("kore", "json.so")
    with open("/usr/share/kore/features") as f:  # the flags Debian's kore was built with
        features = f.read().split()
    run([os.environ.get("CC", "cc"), "-O2", "-shared", "-fPIC"] + features +
        ["-o", so, os.path.join(PEERS_DIR, "kore", "json.c")], "cc json.so for kore")

    def build(tmp, port):
        # One worker that keeps taskset's CPU (kore pins workers itself by default), connections
        # and files for the idle test, and the keep-alive time raised from 20 s.
        conf = """server notls {
\tbind 127.0.0.1 %(port)d
\ttls no
}
load %(so)s
workers 1
worker_set_affinity 0
worker_max_connections %(conns)d
worker_rlimit_nofiles %(files)d
http_keepalive_time %(keep)d
pidfile %(tmp)s/kore.pid
domain * {
\tattach notls
\troute /json page
}
""" % {"port": port, "so": so, "conns": ctx.idle_conns + 1024, "tmp": tmp,
            "files": 2 * ctx.idle_conns + 2048, "keep": KEEP_ALIVE_S}
        path = os.path.join(tmp, "kore.conf")
        with open(path, "w") as f:
            f.write(conf)
        return ["kore", "-c", path, "-f", "-n", "-r"]
    return build


def prepare_ulfius(ctx):
    binary = ctx.out("ulfius", "json-ulfius")
    flags = run(["pkg-config", "--cflags", "--libs", "libulfius", "jansson"],
                "pkg-config libulfius jansson").split()
    run([os.environ.get("CC", "cc"), "-O2", "-o", binary,
         os.path.join(PEERS_DIR, "ulfius", "json.c")] + flags + ["-lpthread"], "cc ulfius app")
    return lambda tmp, port: [binary, str(port)]


def prepare_spring_boot(ctx):
    raise lib.Unavailable(
        "cannot be installed here: Spring Boot is in neither Debian nor npm, the only registries "
        "this machine reaches (the seed's figure, not measured: %s)" % SEED_RSS_SPRING_BOOT)


class Peer:
    def __init__(self, key, label, debs, prepare, versions, env=None, serves_items=False,
                 ready_timeout_s=30):
        self.key = key
        self.label = label
        self.debs = debs
        self.prepare = prepare
        self.versions = versions  # () -> the software measured, for the header
        self.env = env
        self.serves_items = serves_items  # GET/POST /items under load too
        self.ready_timeout_s = ready_timeout_s


def debs_version(*pkgs):
    return lambda: ", ".join("%s %s" % (p, deb_version(p)) for p in pkgs)


def node_version(module_dir):
    def version():
        try:
            with open(os.path.join(module_dir(), "fastify", "package.json")) as f:
                fastify = json.load(f)["version"]
        except (OSError, ValueError, KeyError):
            fastify = "?"
        return "fastify %s (npm), node %s" % (fastify, lib.first_line(["node", "-v"]))
    return version


def peers(ctx):
    java = ["default-jdk-headless"]
    return [
        Peer("crest", "crest, 1 worker (SQLite store open)", [], prepare_crest,
             lambda: "%s (%s)" % (lib.first_line([ctx.crest, "--version"]),
                                  os.path.relpath(ctx.crest, REPO_DIR)), serves_items=True),
        Peer("fastapi", "FastAPI + uvicorn, plain (h11)", FASTAPI_DEBS,
             fastapi_json(PYTHON, False), debs_version("python3-fastapi", "python3-uvicorn",
                                                      "python3-pydantic", "python3")),
        Peer("fastapi-tuned", "FastAPI + uvicorn, tuned (uvloop, httptools, ujson)",
             FASTAPI_DEBS + ["python3-uvloop", "python3-httptools", "python3-ujson"],
             fastapi_json(PYTHON, True), debs_version("python3-uvloop", "python3-httptools",
                                                     "python3-ujson")),
        Peer("fastapi-pypy", "FastAPI + uvicorn on PyPy (h11)", FASTAPI_DEBS + ["pypy3"],
             fastapi_json("/usr/bin/pypy3", False, PYPY_ENV), debs_version("pypy3"),
             env=PYPY_ENV),
        Peer("fastapi-items", "FastAPI items app (bench/peers/items_fastapi.py), SQLite",
             FASTAPI_DEBS, prepare_fastapi_items, lambda: "the FastAPI above", serves_items=True,
             env={"ITEMS_DB": "items.db"}),  # in the server's temporary directory, its cwd
        Peer("go", "Go net/http (standard library)", ["golang-go"], prepare_go,
             lambda: lib.first_line(["go", "version"])),
        Peer("jetty", "Java: embedded Jetty 9, one servlet", java + ["libjetty9-java"],
             java_prepare("JettyJson", jetty_classpath()),
             lambda: "libjetty9-java %s, %s" % (deb_version("libjetty9-java"),
                                               lib.first_line(["java", "-version"]))),
        Peer("jdk-httpserver", "Java: JDK com.sun.net.httpserver", java,
             java_prepare("JdkJson", None), lambda: lib.first_line(["java", "-version"])),
        Peer("spring-boot", "Java: Spring Boot", [], prepare_spring_boot, lambda: None),
        Peer("express", "Node.js: Express", ["nodejs", "node-express"], prepare_express,
             debs_version("node-express", "nodejs"), env={"NODE_PATH": "/usr/share/nodejs"}),
        Peer("fastify", "Node.js: Fastify", ["nodejs"], prepare_fastify,
             node_version(lambda: fastify_modules(ctx)),
             env={"NODE_PATH": fastify_modules(ctx)}),
        Peer("nginx", "nginx `return 200`, 1 worker", ["nginx-light"], prepare_nginx,
             lambda: lib.first_line(["nginx", "-v"]).replace("nginx version: ", "")),
        Peer("h2o", "h2o, 1 thread, static file", ["h2o"], prepare_h2o, debs_version("h2o")),
        Peer("kore", "kore, 1 worker", ["kore", "gcc"], prepare_kore, debs_version("kore")),
        Peer("ulfius", "ulfius (libmicrohttpd + jansson)",
             ["libulfius-dev", "libjansson-dev", "pkg-config", "gcc"], prepare_ulfius,
             debs_version("libulfius2.7", "libmicrohttpd12")),
    ]


# ---------------------------------------------------------------------------------------------
# Measuring one server, alone.


class Args:
    """What items.measure_load reads from its own arguments."""

    def __init__(self, seconds, conns):
        self.seconds = seconds
        self.conns = conns


def measure(peer, ctx, args, notes):
    """Installs, builds, starts and measures one peer; returns its lib.Server with .r filled
    (or .error set). The server is stopped by pid whatever happens."""
    s = lib.Server(peer.key, peer.label, None, env=peer.env,
                   ready_timeout_s=peer.ready_timeout_s)
    try:
        ensure_debs(peer.debs)
        s.build = peer.prepare(ctx)
        s.r["version"] = peer.versions()
        s.start(SERVER_PIN)
        s.wait_ready()
        time.sleep(1)
        s.r["rss_ready"] = s.rss_psutil()
        s.r["pss_ready"] = s.smaps_bytes("Pss")
        log("%s: GET /json for %d s" % (peer.key, args.seconds))
        s.r["json"] = res = lib.wrk_json(s, args.seconds, args.conns, WRK_PIN)
        note_wrk(notes, peer.key, "GET /json", res)
        if s.proc.poll() is not None:
            raise lib.Unavailable("exited with %d under load" % s.proc.returncode)
        time.sleep(0.5)
        s.r["rss_after"] = s.rss_psutil()
        log("%s: %d idle connections" % (peer.key, args.idle_conns))
        s.r["idle"], s.r["idle_err"] = lib.idle_conn_bytes(s, args.idle_conns)
        if peer.serves_items and s.proc.poll() is None:
            time.sleep(0.5)
            rss_after = s.r["rss_after"]
            items.WRK_PIN = WRK_PIN
            items.measure_load(s, Args(args.seconds, args.conns), notes)
            s.r["rss_after"] = rss_after  # items.measure_load sets its own (smaps) figure
    except lib.Unavailable as e:
        s.error = str(e)
    finally:
        s.stop()
    return s


def note_wrk(notes, key, what, res):
    if "noisy" in res:
        notes.append("%s, %s: other processes used %.0f %% of a CPU during the run"
                     % (key, what, 100 * res["noisy"]))
    for k in ("warn", "error"):
        if k in res:
            notes.append("%s, %s: %s" % (key, what, res[k]))


# ---------------------------------------------------------------------------------------------
# Report.


def header(args, servers, busy_pct):
    lines = [
        "# crest and its peers: memory and speed, side by side",
        "",
        "Produced by `make bench` (bench/compare.py); every figure below comes from this run.",
        "",
        "- date: %s" % datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %z"),
        "- machine: %s, %d cores, %.1f GiB; kernel %s" % (
            lib.cpu_model(), os.cpu_count() or 0,
            lib.psutil.virtual_memory().total / 2**30, platform.release()),
        "- load: %s, `wrk -t1 -c%d -d%ds --latency`, keep-alive, one run per server; %s" % (
            " ".join(lib.first_line(["wrk", "-v"]).split()[:2]), args.conns, args.seconds,
            "servers on CPU 0, wrk on CPU 1 (taskset)" if WRK_PIN else
            "no pinning (fewer than 2 CPUs)"),
        "- idle: %d keep-alive connections, one GET /json each, Rss delta from smaps_rollup "
        "over the process tree; MB = 10^6 bytes" % args.idle_conns,
        "- CPU in use by other processes before the run: %.0f %% of the machine" % busy_pct,
        "",
        "Versions:",
        "",
    ]
    for s in servers:
        if s.r.get("version"):
            lines.append("- %s: %s" % (s.label, s.r["version"]))
    return lines + [""]


def fmt_start(s):
    return "—" if s is None else ("%.0f ms" % (1000 * s) if s < 10 else "%.1f s" % s)


def idle_cell(r):
    if r.get("idle") is not None:
        return "{:,}".format(round(r["idle"]))
    return r.get("idle_err") or "—"


def rps_cell(res):
    if not res:
        return "—"
    return lib.fmt_rps(res["rps"]) if "rps" in res else res.get("error", "—")


MAIN_COLUMNS = ("server", "RSS at ready", "PSS at ready", "start → first answer",
                "GET /json req/s", "p50", "p99", "RSS after load", "B / idle conn")


def main_table(servers):
    rows = ["| %s |" % " | ".join(MAIN_COLUMNS), "|" + "---|" * len(MAIN_COLUMNS)]
    for s in servers:
        r = s.r
        if "rss_ready" not in r:
            rows.append("| %s | skipped: %s |%s" % (s.label, s.error.replace("|", "\\|"),
                                                    " — |" * (len(MAIN_COLUMNS) - 2)))
            continue
        j = r.get("json", {})
        label = s.label + (" (stopped early: %s)" % s.error if s.error else "")
        rows.append("| %s |" % " | ".join([
            label, lib.fmt_mb(r["rss_ready"]), lib.fmt_mb(r.get("pss_ready")),
            fmt_start(r.get("start_s")), rps_cell(j), lib.fmt_ms(j.get("p50")),
            lib.fmt_ms(j.get("p99")), lib.fmt_mb(r.get("rss_after")), idle_cell(r)]))
    return rows


def items_table(servers):
    rows = ["| server | GET /items/{id} req/s | p50 | p99 | POST /items req/s | p50 | p99 |",
            "|---|---|---|---|---|---|---|"]
    for s in servers:
        get, post = s.r.get("get", {}), s.r.get("post", {})
        rows.append("| %s |" % " | ".join([
            s.label, rps_cell(get), lib.fmt_ms(get.get("p50")), lib.fmt_ms(get.get("p99")),
            rps_cell(post), lib.fmt_ms(post.get("p50")), lib.fmt_ms(post.get("p99"))]))
    return rows


def tables(args, servers, chart_files, chart_dir, level):
    """The tables and chart links, shared by latest.md and the README's section."""
    lines = main_table(servers)
    with_items = [s for s in servers if s.r.get("get") or s.r.get("post")]
    if with_items:
        lines += ["", "%s Items service: GET by id and POST, SQLite (bench/items.py's method)"
                  % level, "", "Seeded with %s items; `wrk -t1 -c%d -d%ds --latency` with "
                  "bench/items_get.lua (ids 1..%s in turn) and bench/items_post.lua."
                  % ("{:,}".format(soak.SEED_ITEMS), args.conns, args.seconds,
                     "{:,}".format(soak.SEED_ITEMS)), ""]
        lines += items_table(with_items)
    if chart_files:
        lines += [""] + ["![%s](%s)" % (title, os.path.join(chart_dir, os.path.basename(path)))
                         for title, path in chart_files]
    return lines


README_BEGIN = "<!-- make bench: begin (written by bench/compare.py) -->"
README_END = "<!-- make bench: end -->"


def update_readme(path, args, servers, chart_files):
    """Replaces the README's section between the markers with this run's tables and charts."""
    with open(path) as f:
        text = f.read()
    if README_BEGIN not in text or README_END not in text:
        log("%s: no %s ... %s markers, not updated" % (path, README_BEGIN, README_END))
        return
    chart_dir = os.path.relpath(args.out_dir, os.path.dirname(os.path.abspath(path)))
    body = ["", "Measured on %s (%s, %d cores) by `make bench`; the whole report, with versions "
            "and notes: [`%s/latest.md`](%s/latest.md)." % (
                datetime.date.today().isoformat(), lib.cpu_model(), os.cpu_count() or 0,
                chart_dir, chart_dir), ""]
    body += tables(args, servers, chart_files, chart_dir, "###") + [""]
    head, rest = text.split(README_BEGIN, 1)
    tail = rest.split(README_END, 1)[1]
    with open(path, "w") as f:
        f.write(head + README_BEGIN + "\n".join(body) + "\n" + README_END + tail)
    log("%s: benchmark section updated" % path)


def report(args, servers, busy_pct, chart_files, notes, elapsed):
    lines = header(args, servers, busy_pct)
    lines += tables(args, servers, chart_files, "", "##")
    lines += ["", "Notes:", "",
              "- RSS at ready: resident memory 1 s after the first 200 to GET /json, summed over "
              "the process tree as psutil does (the seed's figure); PSS divides shared pages "
              "among their users. start → first answer: from exec to the first 200 (polled "
              "every 5 ms).",
              "- Spring Boot is not measured: it cannot be installed from Debian or npm. The "
              "seed's figure for it is %s RSS at start (quoted from the seed article, not "
              "measured here); Jetty is the servlet container Spring Boot can embed."
              % SEED_RSS_SPRING_BOOT,
              "- Idle connections: (Rss after − Rss before) / N, read 1 s after N keep-alive "
              "connections each got one answer; \"fails\" says how a server broke off. Peers "
              "with a default idle timeout under the test's length (uvicorn 5 s, Node 5 s, "
              "kore 20 s) run with %d s, and those with a default cap on connections (kore, the "
              "JDK's server: 200 idle) with room for the test; others run as shipped."
              % KEEP_ALIVE_S]
    lines += ["- " + n for n in notes]
    lines += ["", "Run time: %.0f s." % elapsed]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# The run.


def parse_args(keys):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--crest", default="build/crest", help="crest binary (default build/crest)")
    ap.add_argument("--peers", default="", help="comma list of %s (default all)"
                    % ",".join(keys))
    ap.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    ap.add_argument("--conns", type=int, default=100, help="wrk connections")
    ap.add_argument("--idle-conns", type=int, default=5000, help="idle keep-alive connections")
    ap.add_argument("--smoke", action="store_true",
                    help="a quick check of the harness: 1 s runs, 200 idle connections")
    ap.add_argument("--out-dir", default=os.path.join(REPO_DIR, "bench", "results"),
                    help="where latest.md and the charts go")
    ap.add_argument("--readme", help="also write the tables into this README's section "
                    "between %s and %s" % (README_BEGIN, README_END))
    ap.add_argument("--build-dir", default=os.path.join(REPO_DIR, "build", "bench-peers"),
                    help="where peers are built and npm packages installed")
    args = ap.parse_args()
    if args.smoke:
        args.seconds, args.idle_conns = 1, min(args.idle_conns, 200)
    args.peers = [k.strip() for k in args.peers.split(",") if k.strip()] or list(keys)
    unknown = [k for k in args.peers if k not in keys]
    if unknown:
        ap.error("--peers: unknown %s (choose from %s)" % (",".join(unknown), ",".join(keys)))
    if min(args.seconds, args.conns, args.idle_conns) < 1:
        ap.error("--seconds, --conns and --idle-conns must be positive")
    args.crest = os.path.abspath(args.crest)
    args.build_dir = os.path.abspath(args.build_dir)
    return args


def on_signal(signum, frame):
    raise SystemExit(128 + signum)  # unwinds through measure's finally, which stops the server


SERVER_PIN, WRK_PIN = [], []
KEYS = ("crest", "fastapi", "fastapi-tuned", "fastapi-pypy", "fastapi-items", "go", "jetty",
        "jdk-httpserver", "spring-boot", "express", "fastify", "nginx", "h2o", "kore", "ulfius")


def main():
    global SERVER_PIN, WRK_PIN
    args = parse_args(KEYS)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)
    try:
        ensure_debs(BASE_DEBS)
    except lib.Unavailable as e:
        sys.exit("compare.py: %s" % e)
    lib.raise_nofile(args.idle_conns + 4 * args.conns + 256)
    SERVER_PIN, WRK_PIN = lib.pinning()
    ctx = Ctx(args)
    chosen = [p for p in peers(ctx) if p.key in args.peers]
    assert [p.key for p in peers(ctx)] == list(KEYS)
    busy_pct = lib.psutil.cpu_percent(interval=1.0)
    notes, servers, t0 = [], [], time.monotonic()
    for peer in chosen:
        log("%s: installing, building, starting" % peer.key)
        s = measure(peer, ctx, args, notes)
        if s.error:
            log("%s: %s" % (peer.key, s.error))
        servers.append(s)
    os.makedirs(args.out_dir, exist_ok=True)
    for old in glob.glob(os.path.join(args.out_dir, "latest-*.svg")):
        os.remove(old)
    try:
        chart_files = charts.draw(servers, args.out_dir, "latest")
    except charts.Unavailable as e:
        chart_files = []
        notes.append("charts not drawn: %s" % e)
    text = report(args, servers, busy_pct, chart_files, notes, time.monotonic() - t0)
    print(text, end="")
    with open(os.path.join(args.out_dir, "latest.md"), "w") as f:
        f.write(text)
    log("written to %s" % os.path.join(args.out_dir, "latest.md"))
    if args.readme:
        update_readme(args.readme, args, servers, chart_files)


if __name__ == "__main__":
    main()
