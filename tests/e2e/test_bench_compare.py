"""bench/compare.py (`make bench`) in its smoke mode: crest and nginx, 1 s of load each.

Checks that the harness runs end to end and writes a well-formed report: latest.md with the
machine header, one table row per server with figures in every column, the items table for
crest, and two SVG charts that parse as XML and name each server. No figure is asserted: speed
and memory are bench/'s business, not a test's.
"""

import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from conftest import CREST_BIN, REPO

COMPARE = REPO / "bench" / "compare.py"
ENSURE = REPO / "tools" / "ensure-packages.sh"
NEEDS = ["wrk", "nginx-light", "python3-psutil", "python3-matplotlib"]
SVG = "{http://www.w3.org/2000/svg}"
COLUMNS = ["server", "RSS at ready", "PSS at ready", "start → first answer", "GET /json req/s",
           "p50", "p99", "RSS after load", "B / idle conn"]
LABELS = {"crest": "crest, 1 worker (SQLite store open)", "nginx": "nginx `return 200`, 1 worker"}


def table(text, first_column):
    """The markdown table whose header starts with first_column: (header, rows) as cells."""
    lines = text.splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("| %s |" % first_column))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])  # "\|" is a pipe inside a cell
        rows.append([c.strip() for c in cells])
    assert set(rows[1]) == {"---"}, "the second line of a table is its separator"
    return rows[0], rows[2:]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    if subprocess.run(["sh", str(ENSURE)] + NEEDS, capture_output=True).returncode != 0:
        pytest.skip("needs %s (installed by the harness when run as root)" % " ".join(NEEDS))
    out = tmp_path_factory.mktemp("bench")
    run = subprocess.run(
        [sys.executable, str(COMPARE), "--crest", CREST_BIN, "--peers", "crest,nginx",
         "--smoke", "--out-dir", str(out), "--build-dir", str(out / "build")],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr[-2000:]
    return out, (out / "latest.md").read_text()


def test_report_header_names_machine_versions_and_date(report):
    _, text = report
    assert text.startswith("# ")
    assert re.search(r"^- date: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d", text, re.M)
    assert re.search(r"^- machine: .+, \d+ cores", text, re.M)
    assert re.search(r"^- %s: crest \S+" % re.escape(LABELS["crest"]), text, re.M)
    assert re.search(r"^- %s: nginx/\S+" % re.escape(LABELS["nginx"]), text, re.M)


def test_report_has_a_full_row_per_server(report):
    _, text = report
    header, rows = table(text, "server")
    assert header == COLUMNS
    assert [r[0] for r in rows] == [LABELS["crest"], LABELS["nginx"]]
    for row in rows:
        assert len(row) == len(COLUMNS), row
        for cell in row[1:3] + row[7:8]:
            assert re.fullmatch(r"\d+\.\d\d MB", cell), row
        assert re.fullmatch(r"\d+ ms|\d+\.\d s", row[3]), row
        assert re.fullmatch(r"[\d,]+", row[4]), row
        assert re.fullmatch(r"\d+\.\d\d ms", row[5]) and re.fullmatch(r"\d+\.\d\d ms", row[6])
        assert re.fullmatch(r"-?[\d,]+|fails: .+", row[8]), row


def test_report_has_crest_items_rates(report):
    _, text = report
    header, rows = table(text, "server | GET /items/{id} req/s")
    assert len(header) == 7
    assert [r[0] for r in rows] == [LABELS["crest"]]
    assert re.fullmatch(r"[\d,]+", rows[0][1]) and re.fullmatch(r"[\d,]+", rows[0][4])


def test_charts_are_svg_naming_every_server(report):
    out, text = report
    for name in ("latest-memory.svg", "latest-rps.svg"):
        assert "](%s)" % name in text, "latest.md links the chart"
        root = ET.parse(out / name).getroot()
        assert root.tag == SVG + "svg"
        words = " ".join("".join(t.itertext()) for t in root.iter(SVG + "text"))
        for label in LABELS.values():
            assert label in words, (name, label)


def test_unknown_peer_is_refused():
    run = subprocess.run([sys.executable, str(COMPARE), "--peers", "crest,nope"],
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and "nope" in run.stderr
