"""deploy/ as shipped: the Kubernetes manifests parse and agree with crest's flags (probes on
/healthz, the memory limit derived from --memory-limit, the grace period beyond the drain, the
database URL from the Secret), and the systemd unit passes `systemd-analyze verify` and drains on
SIGTERM within TimeoutStopSec. The nginx example is run for real by test_scaleout.py."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import CREST_BIN

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30}


def k8s_bytes(q):
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi)?", str(q))
    assert m, f"memory quantity {q!r}"
    return int(m.group(1)) * UNITS.get(m.group(2) or "", 1)


def crest_bytes(v):  # crest's --memory-limit: K, M, G are binary (1M = 1 MiB)
    m = re.fullmatch(r"(\d+)([KMG])?", v)
    assert m, f"--memory-limit {v!r}"
    return int(m.group(1)) * UNITS.get(m.group(2) or "", 1)


def flag(args, name):
    assert name in args, f"{name} not in {args}"
    return str(args[args.index(name) + 1])


@pytest.fixture(scope="module")
def manifests():
    yaml = pytest.importorskip("yaml", reason="python3-yaml is not installed")
    docs = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and "kind" in doc:
                docs[doc["kind"]] = doc
    assert {"Deployment", "Service", "Secret"} <= set(docs), sorted(docs)
    return docs


def container(manifests):
    [c] = manifests["Deployment"]["spec"]["template"]["spec"]["containers"]
    return c


def test_probes_are_on_healthz_at_the_port_crest_listens_on(manifests):
    c = container(manifests)
    port = int(flag(c["args"], "--port"))
    named = {p["name"]: p["containerPort"] for p in c["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] == "/healthz", probe
        assert named.get(get["port"], get["port"]) == port, probe
    # a database outage (503 degraded) must not restart every pod at once: liveness tolerates
    # far longer than readiness
    live, ready = c["livenessProbe"], c["readinessProbe"]
    assert live["periodSeconds"] * live["failureThreshold"] >= 30
    assert live["periodSeconds"] * live["failureThreshold"] > \
        ready["periodSeconds"] * ready["failureThreshold"]


def test_memory_limit_is_the_budget_plus_half_of_it(manifests):
    c = container(manifests)
    budget = crest_bytes(flag(c["args"], "--memory-limit"))
    limit = k8s_bytes(c["resources"]["limits"]["memory"])
    assert limit == budget * 3 // 2, (budget, limit)  # the rule the manifest's comment states
    assert k8s_bytes(c["resources"]["requests"]["memory"]) == limit


def test_prometheus_annotations_point_at_metrics(manifests):
    c = container(manifests)
    ann = manifests["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/scrape"] == "true"
    assert ann["prometheus.io/path"] == "/metrics"
    assert int(ann["prometheus.io/port"]) == int(flag(c["args"], "--port"))


def test_database_url_comes_from_the_secret_and_grace_exceeds_the_drain(manifests):
    c = container(manifests)
    assert "--db" not in c["args"] and not any("postgres" in str(a) for a in c["args"])
    [env] = [e for e in c["env"] if e["name"] == "DATABASE_URL"]
    ref = env["valueFrom"]["secretKeyRef"]
    secret = manifests["Secret"]
    assert ref["name"] == secret["metadata"]["name"]
    assert ref["key"] in secret.get("stringData", {}) or ref["key"] in secret.get("data", {})
    grace = manifests["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > float(flag(c["args"], "--timeout-graceful-shutdown"))
    svc = manifests["Service"]
    assert svc["spec"]["selector"] == manifests["Deployment"]["spec"]["selector"]["matchLabels"]
    assert svc["spec"]["ports"][0]["targetPort"] in [p["name"] for p in c["ports"]]


UNIT = DEPLOY / "systemd" / "crest@.service"


def unit_settings():
    text = UNIT.read_text().replace("\\\n", " ")
    settings = {}
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if m:
            settings.setdefault(m.group(1), []).append(m.group(2))
    return settings


def test_unit_drains_on_sigterm_and_keeps_the_password_off_the_command_line():
    s = unit_settings()
    assert s["KillSignal"] == ["SIGTERM"]
    args = s["ExecStart"][0].split()
    drain = float(flag(args, "--timeout-graceful-shutdown"))
    assert float(s["TimeoutStopSec"][0]) > drain
    assert flag(args, "--port") == "%i"
    assert s["EnvironmentFile"] and "--db" not in args
    for hardening in ("NoNewPrivileges", "ProtectSystem", "PrivateTmp", "DynamicUser"):
        assert hardening in s, hardening
    budget = crest_bytes(flag(args, "--memory-limit"))
    assert crest_bytes(s["MemoryMax"][0]) == budget * 3 // 2


def test_unit_passes_systemd_analyze_verify(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    if not os.access(CREST_BIN, os.X_OK):
        pytest.skip(f"{CREST_BIN} not built")
    env_file = tmp_path / "crest.env"
    env_file.write_text("DATABASE_URL=postgresql://crest:x@127.0.0.1:5432/crest\n")
    text = UNIT.read_text().replace("/usr/local/bin/crest", CREST_BIN)
    text = text.replace("/etc/crest/crest.env", str(env_file))
    (tmp_path / "crest@.service").write_text(text)
    r = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "crest@8081.service")],
                       capture_output=True, text=True, timeout=60)
    complaints = [line for line in (r.stdout + r.stderr).splitlines() if "crest@" in line]
    assert r.returncode == 0 and not complaints, r.stdout + r.stderr
