"""The run command (`python -m devtools.up`, what scripts/run execs after bootstrap), started for real.

A second stack runs beside the session's services: its own var dir, Temporal, Redis and free ports.
The tests are ordered: the stack answers, the sample workflow runs (when the runtime API is there),
then SIGTERM stops the launcher and every process it started.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPConnection
from pathlib import Path

import pytest

from devtools.services import free_port

ROOT = Path(__file__).resolve().parent.parent


def http(method: str, url: str, body: dict | None = None, headers: dict | None = None, timeout: float = 30):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def processes_mentioning(text: str) -> list[int]:
    """Pids of live (non-zombie) processes whose environment or command line contains `text`."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if (proc / "stat").read_text().split(") ")[-1].startswith("Z"):
                continue
            blob = (proc / "environ").read_bytes() + (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in blob:
            found.append(int(proc.name))
    return found


class Stack:
    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.port = free_port()
        self.ports = {
            "--port": self.port, "--temporal-port": free_port(), "--temporal-ui-port": 0,
            "--redis-port": free_port(), "--worker-health-port": free_port(), "--metrics-port": free_port(),
        }
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "TEMPORAL_ADDRESS"}}
        env["DRIFT_VAR_DIR"] = str(var_dir)
        env["DRIFT_ADMIN_PASSWORD"] = "test-admin-password"
        args = [sys.executable, "-m", "devtools.up", "--host", "127.0.0.1"]
        for option, value in self.ports.items():
            args += [option, str(value)]
        self.output = var_dir / "up.out"
        var_dir.mkdir(parents=True, exist_ok=True)
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_ready(self, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"devtools.up exited with {self.process.returncode}:\n{self.text()}")
            if "Ctrl-C stops everything" in self.text():
                return
            time.sleep(0.5)
        pytest.fail(f"devtools.up did not come up within {timeout}s:\n{self.text()}")

    def api_key(self) -> str:
        match = re.search(r"API key\s+(\S+)", self.text())
        assert match, self.text()
        return match.group(1)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    instance = Stack(tmp_path_factory.mktemp("drift-up"))
    try:
        instance.wait_ready()
        yield instance
    finally:
        if instance.process.poll() is None:
            instance.process.send_signal(signal.SIGTERM)
            try:
                instance.process.wait(60)
            except subprocess.TimeoutExpired:
                instance.process.kill()


def test_stack_serves_health_admin_and_schema(stack: Stack) -> None:
    status, body = http("GET", f"{stack.url}/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    status, body = http("GET", f"{stack.url}/readyz")
    assert status == 200, body
    assert json.loads(body)["checks"] == {"database": "ok", "redis": "ok", "temporal": "ok"}
    status, body = http("GET", f"{stack.url}/admin/login/")
    assert status == 200 and b"Drift" in body
    status, _ = http("GET", f"{stack.url}/static/admin/css/base.css")
    assert status == 200, "admin static files must be served (WhiteNoise)"
    status, body = http("GET", f"{stack.url}/api/schema/")
    assert status == 200 and b"openapi" in body
    status, body = http("GET", f"{stack.url}/metrics")
    assert status == 200 and b"drift_runs" in body
    status, body = http("GET", f"{stack.url}/demo/oms/orders/42")
    assert status == 200 and json.loads(body)["status"] == "DELIVERED"
    worker_health = stack.ports["--worker-health-port"]
    assert http("GET", f"http://127.0.0.1:{worker_health}/")[0] == 200

    text = stack.text()
    assert "admin" in text and "test-admin-password" in text
    assert "DRIFT_HTTP_ALLOWED_NETWORKS=127.0.0.0/8" in text and "DEV setting" in text
    assert "/v3/workflow/start" in text and "X-Tenant-Id: demo" in text
    for name in ("api", "worker", "celery", "temporal", "redis"):
        assert (stack.var_dir / "logs" / f"{name}.log").exists()


def test_sample_workflow_end_to_end(stack: Stack) -> None:
    headers = {
        "Authorization": f"Api-Key {stack.api_key()}", "X-Tenant-Id": "demo", "X-Client-Id": "demo",
        "Content-Type": "application/json",
    }
    body = {"issueDetail": {"issueId": "order_status"}, "params": {"orderId": "42"}}
    status, raw = http("POST", f"{stack.url}/v3/workflow/start", body, headers, timeout=60)
    assert status in (200, 202), raw
    response = json.loads(raw)
    assert response["workflowId"]
    assert response["workflowStatus"] not in ("FAILED", "TERMINATED"), response

    # The seed's header spelling reaches the app through gunicorn too.
    seed_headers = {"Authorization": headers["Authorization"], "X_TENANT_ID": "demo", "X_CLIENT_ID": "demo"}
    status, raw = http("GET", f"{stack.url}/v3/workflow/{response['workflowId']}", None, seed_headers, timeout=30)
    assert status == 200, raw
    assert json.loads(raw)["workflowId"] == response["workflowId"]


def chunked(url: str, path: str, parts: list[bytes], headers: dict) -> tuple[int, bytes]:
    """POST `parts` with Transfer-Encoding: chunked and no Content-Length (http.client does so for an iterable)."""
    connection = HTTPConnection(urllib.parse.urlsplit(url).netloc, timeout=60)
    try:
        connection.request("POST", path, body=iter(parts), headers=headers, encode_chunked=True)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_chunked_request_bodies_are_read_not_treated_as_empty(stack: Stack) -> None:
    """gunicorn hands Django a chunked body without a length; it must be read (within the same size limit)."""
    headers = {
        "Authorization": f"Api-Key {stack.api_key()}", "X-Tenant-Id": "demo", "X-Client-Id": "demo",
        "Content-Type": "application/json",
    }
    body = json.dumps({"issueDetail": {"issueId": "order_status"}, "params": {"orderId": "42"}}).encode()
    status, raw = chunked(stack.url, "/v3/workflow/start", [body[:10], body[10:30], body[30:]], headers)
    assert status in (200, 202), raw
    assert json.loads(raw)["workflowDefinitionId"] == "order_status"

    status, raw = chunked(stack.url, "/v3/workflow/start", [b'{"params": {"x": NaN}}'], headers)
    assert (status, json.loads(raw)["details"][0]["path"]) == (400, "$.params.x"), raw

    big = b'{"issueDetail": {"issueId": "order_status"}, "params": {"pad": "' + b"x" * (3 * 1024 * 1024) + b'"}}'
    status, raw = chunked(stack.url, "/v3/workflow/start", [big[i:i + 65536] for i in range(0, len(big), 65536)],
                          headers)
    assert status == 413 and json.loads(raw)["error"] == "TOO_LARGE", raw


def test_sigterm_stops_every_child(stack: Stack) -> None:
    state = json.loads((stack.var_dir / "up.json").read_text())
    assert set(state["children"]) == {"temporal", "redis", "api", "worker", "celery"}
    assert processes_mentioning(str(stack.var_dir)), "the children should be running before the stop"

    stack.process.send_signal(signal.SIGTERM)
    assert stack.process.wait(90) == 0, stack.text()
    assert "every process stopped" in stack.text()
    deadline = time.monotonic() + 10
    while processes_mentioning(str(stack.var_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(stack.var_dir)) == [], "a child of devtools.up outlived it"
