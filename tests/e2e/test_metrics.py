"""GET /metrics over real sockets: the Prometheus text format 0.0.4 (content type, HELP and TYPE
for every family, label escaping as promtool reads it), requests counted under their route
template, cumulative histograms; a real Prometheus server scraping crest; and the shipped
deploy/ files (the scrape config parses, every metric the Grafana dashboard queries is exported).

promtool and prometheus come from the Debian package `prometheus` (in the Makefile's TEST_PKGS);
the tests that need them skip, naming the package, when it is missing."""

import json
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import REPO, Conn, free_port, get

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ITEM_ROUTE = "/items/{item_id:int}"

# name → type: what the client-library guidelines and the observability issue ask for.
REQUIRED = {
    "process_resident_memory_bytes": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_virtual_memory_max_bytes": "gauge",
    "process_heap_bytes": "gauge",
    "process_cpu_seconds_total": "counter",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "process_start_time_seconds": "gauge",
    "process_threads": "gauge",
    "http_requests_total": "counter",
    "http_request_duration_seconds": "histogram",
    "http_requests_in_flight": "gauge",
    "crest_memory_live_bytes": "gauge",
    "crest_memory_peak_bytes": "gauge",
    "crest_memory_allocations_total": "counter",
    "crest_connections": "gauge",
    "crest_memory_limit_bytes": "gauge",
    "crest_requests_shed_total": "counter",
}

# Help texts the Prometheus client-library guidelines give the process metrics.
GUIDELINE_HELP = {
    "process_cpu_seconds_total": "Total user and system CPU time spent in seconds.",
    "process_open_fds": "Number of open file descriptors.",
    "process_max_fds": "Maximum number of open file descriptors.",
    "process_virtual_memory_bytes": "Virtual memory size in bytes.",
    "process_virtual_memory_max_bytes": "Maximum amount of virtual memory available in bytes.",
    "process_resident_memory_bytes": "Resident memory size in bytes.",
    "process_heap_bytes": "Process heap size in bytes.",
    "process_start_time_seconds": "Start time of the process since unix epoch in seconds.",
    "process_threads": "Number of OS threads in the process.",
}

PROMETHEUS_DEADLINE = 15.0  # seconds for Prometheus to start, scrape crest and answer queries


# ---- the text format ----

SAMPLE_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')
UNESCAPE = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL_PAIR.match(text, pos)
        assert m, f"bad labels at {text[pos:]!r}"
        labels[m.group(1)] = re.sub(r'\\[\\"n]', lambda e: UNESCAPE[e.group()], m.group(2))
        pos = m.end()
    return labels


class Exposition:
    """A parsed /metrics body: families {name: {"type", "help"}} and samples [(name, labels,
    value)] in order."""

    def __init__(self, text):
        self.families, self.samples = {}, []
        for line in text.splitlines():
            if line.startswith("# HELP ") or line.startswith("# TYPE "):
                kind, name, rest = line[2:6].lower(), *line[7:].split(" ", 1)
                self.families.setdefault(name, {})[kind] = rest
                continue
            assert line and not line.startswith("#"), f"unexpected line {line!r}"
            m = SAMPLE_LINE.match(line)
            assert m, f"bad sample line {line!r}"
            self.samples.append((m.group(1), parse_labels(m.group(2) or ""), float(m.group(3))))

    def value(self, name, **labels):
        """The value of the series with exactly these labels, or None."""
        for n, ls, v in self.samples:
            if n == name and ls == labels:
                return v
        return None

    def series(self, name):
        return [(ls, v) for n, ls, v in self.samples if n == name]

    def sample_names(self):
        """Every name a query may use: families, and a histogram's _bucket, _sum and _count."""
        names = set()
        for name, fam in self.families.items():
            if fam.get("type") == "histogram":
                names |= {name + "_bucket", name + "_sum", name + "_count"}
            else:
                names.add(name)
        return names | {n for n, _, _ in self.samples}


def scrape(srv):
    r = srv.get("/metrics")
    assert r.status == 200, r
    return r


def metrics(srv):
    return Exposition(scrape(srv).body.decode())


def call(srv, method, path, body=None):
    payload = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
    with Conn(srv.port) as c:
        return c.request(head.encode() + b"\r\n" + payload)


def require(tool):
    path = shutil.which(tool)
    if not path:
        pytest.skip(f"{tool} not found: install the Debian package prometheus (make deps-test)")
    return path


# ---- the exposition ----


def test_metrics_content_type_and_every_required_family(crest):
    r = scrape(crest)
    assert r.header("Content-Type") == CONTENT_TYPE
    m = Exposition(r.body.decode())
    for name, kind in REQUIRED.items():
        fam = m.families.get(name)
        assert fam, f"no HELP/TYPE for {name}"
        assert fam.get("type") == kind, (name, fam)
        assert fam.get("help"), f"empty HELP for {name}"
    for name, help_text in GUIDELINE_HELP.items():
        assert m.families[name]["help"] == help_text
    assert m.value("process_resident_memory_bytes") > 0
    assert m.value("process_threads") == 3  # main thread + 2 workers
    assert m.value("process_open_fds") > 0 and m.value("process_max_fds") > 0
    assert abs(m.value("process_start_time_seconds") - time.time()) < 120
    assert m.value("crest_memory_limit_bytes") == 0  # no budget by default
    assert {ls["state"] for ls, _ in m.series("crest_connections")} == {
        "idle", "reading", "io", "pending", "tunnel"}
    assert m.value("crest_memory_live_bytes", tag="router") > 0


def test_requests_are_counted_under_route_templates(crest):
    assert call(crest, "GET", "/items/1").status == 404  # empty store: the route answers 404
    assert call(crest, "POST", "/items", {"name": "Foo", "price": 1}).status == 201
    assert call(crest, "GET", "/items/1").status == 200
    assert call(crest, "GET", "/items/abc").status == 422
    assert call(crest, "GET", "/no/such/path").status == 404
    m = metrics(crest)

    def count(method, route, status):
        return m.value("http_requests_total", method=method, route=route, status=str(status))

    assert count("GET", ITEM_ROUTE, 404) == 1
    assert count("GET", ITEM_ROUTE, 200) == 1
    assert count("GET", ITEM_ROUTE, 422) == 1
    assert count("POST", "/items", 201) == 1
    assert count("GET", "none", 404) == 1
    routes = {ls["route"] for ls, _ in m.series("http_requests_total")}
    assert not routes & {"/items/1", "/items/abc", "/no/such/path"}  # never the raw path


def test_histogram_buckets_are_cumulative_and_count_matches(crest):
    n = 25
    with crest.conn() as c:
        for _ in range(n):
            assert c.request(get("/healthz")).status == 200
    m = metrics(crest)
    buckets = sorted(
        (float(ls["le"]), v)
        for ls, v in m.series("http_request_duration_seconds_bucket")
        if ls["route"] == "/healthz" and ls["method"] == "GET"
    )
    bounds = [le for le, _ in buckets]
    assert bounds == [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, float("inf")]
    values = [v for _, v in buckets]
    assert values == sorted(values), "buckets are cumulative"
    labels = {"method": "GET", "route": "/healthz"}
    assert values[-1] == m.value("http_request_duration_seconds_count", **labels) == n
    assert m.value("http_requests_total", status="200", **labels) == n
    assert 0 <= m.value("http_request_duration_seconds_sum", **labels) < n * 10
    for name, ls, v in m.samples:  # every series: +Inf equals _count
        if name == "http_request_duration_seconds_bucket" and ls["le"] == "+Inf":
            rest = {k: x for k, x in ls.items() if k != "le"}
            assert v == m.value("http_request_duration_seconds_count", **rest)


def test_in_flight_counts_the_scrape_itself(crest):
    assert metrics(crest).value("http_requests_in_flight") >= 1


def test_promtool_check_metrics_passes(crest):
    promtool = require("promtool")
    call(crest, "GET", "/items/1")
    call(crest, "GET", "/no/such/path")
    body = scrape(crest).body
    r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                       timeout=30)
    assert r.returncode == 0, (r.stdout + r.stderr).decode()


# ---- a real Prometheus ----


def api(port, path, **params):
    """GET Prometheus' HTTP API; the decoded "data", or None while it is not answering."""
    url = f"http://127.0.0.1:{port}{path}"
    if params:
        url += "?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            doc = json.load(r)
    except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
        return None
    return doc.get("data") if doc.get("status") == "success" else None


def poll(fn, deadline, what):
    while time.monotonic() < deadline:
        result = fn()
        if result:
            return result
        time.sleep(0.2)
    pytest.fail(f"Prometheus: {what} within {PROMETHEUS_DEADLINE} s")


def crest_target_up(port, crest_port):
    data = api(port, "/api/v1/targets")
    for t in (data or {}).get("activeTargets", []):
        if t["labels"].get("instance") == f"127.0.0.1:{crest_port}" and t["health"] == "up":
            return t
    return None


def instant(port, query):
    data = api(port, "/api/v1/query", query=query)
    return data["result"] if data and data["result"] else None


@pytest.fixture
def prometheus(tmp_path):
    """Factory: prometheus(crest_port) starts a Prometheus scraping crest every second, with its
    config and TSDB in tmp_path; returns its port. Stopped by pid at the end."""
    binary = require("prometheus")
    procs = []

    def start(crest_port):
        port = free_port()
        cfg = tmp_path / "prometheus.yml"
        cfg.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: crest\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{crest_port}']\n"
        )
        log = open(tmp_path / "prometheus.log", "wb")
        procs.append((subprocess.Popen(
            [binary, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        ), log))
        return port

    yield start
    for proc, log in procs:
        proc.terminate()  # by pid
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def dashboard_exprs():
    doc = json.loads((REPO / "deploy" / "grafana" / "crest.json").read_text())
    return [t["expr"] for p in doc["panels"] for t in p.get("targets", []) if t.get("expr")]


def test_prometheus_scrapes_crest(crest, prometheus):
    deadline = time.monotonic() + PROMETHEUS_DEADLINE
    port = prometheus(crest.port)
    target = poll(lambda: crest_target_up(port, crest.port), deadline, "crest target not up")
    assert target["labels"]["job"] == "crest"
    assert target["scrapeUrl"] == f"http://127.0.0.1:{crest.port}/metrics"

    result = poll(lambda: instant(port, "process_resident_memory_bytes"), deadline,
                  "no process_resident_memory_bytes")
    assert result[0]["metric"]["instance"] == f"127.0.0.1:{crest.port}"
    own = metrics(crest)
    rss = float(result[0]["value"][1])
    assert 0.5 < rss / own.value("process_resident_memory_bytes") < 2  # RSS moves a little
    start = instant(port, "process_start_time_seconds")
    assert float(start[0]["value"][1]) == own.value("process_start_time_seconds")  # it does not

    # Every dashboard query is valid PromQL against crest's series (empty results are fine:
    # rates need two scrapes in the window).
    for expr in dashboard_exprs():
        q = expr.replace("$job", "crest").replace("$instance", ".*")
        assert api(port, "/api/v1/query", query=q) is not None, q


# ---- deploy/ ----


def test_deploy_prometheus_config_is_valid():
    promtool = require("promtool")
    r = subprocess.run([promtool, "check", "config", str(REPO / "deploy" / "prometheus.yml")],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "localhost:8080" in (REPO / "deploy" / "prometheus.yml").read_text()


PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                   "offset", "and", "or", "unless", "inf", "nan"}
LABEL_LIST = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


def promql_names(expr):
    """(metric names, grouping label names) used by a PromQL expression."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings, which may hold anything
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    labels = {x.strip() for m in LABEL_LIST.finditer(expr) for x in m.group(2).split(",")}
    expr = LABEL_LIST.sub("", expr)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        if expr[m.end():].lstrip().startswith("("):
            continue  # a function or an aggregation
        if m.group().lower() not in PROMQL_KEYWORDS:
            names.add(m.group())
    return names, labels - {""}


def test_promql_names_reads_functions_labels_and_metrics():
    names, labels = promql_names(
        'histogram_quantile(0.9, sum by (le, route) (rate(x_bucket{a="b}"}[1m]))) / on (job) y')
    assert names == {"x_bucket", "y"}
    assert labels == {"le", "route", "job"}


def test_dashboard_queries_only_exported_metrics(crest):
    doc = json.loads((REPO / "deploy" / "grafana" / "crest.json").read_text())
    assert 36 <= doc["schemaVersion"] <= 40
    ids = [p["id"] for p in doc["panels"]]
    assert len(ids) == len(set(ids)) >= 6
    call(crest, "GET", "/items/1")  # so that the HTTP families have series and labels
    m = metrics(crest)
    exported = m.sample_names()
    labels = {k for _, ls, _ in m.samples for k in ls} | {"instance", "job"}  # added by Prometheus
    used = set()
    for expr in dashboard_exprs():
        names, by = promql_names(expr)
        assert names, f"no metric in {expr!r}"
        assert names <= exported, f"{expr!r} uses {names - exported}, not in /metrics"
        assert by <= labels, f"{expr!r} groups by {by - labels}, which no series has"
        used |= names
    assert {"process_resident_memory_bytes", "crest_memory_live_bytes", "crest_connections",
            "http_requests_total", "http_request_duration_seconds_bucket",
            "crest_requests_shed_total"} <= used
