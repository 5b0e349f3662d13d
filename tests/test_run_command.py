"""The run command (`python -m devtools.up`, what scripts/run execs after bootstrap), started for real.

A second stack runs beside the session's services: its own var dir, Temporal, Redis and free ports.
The tests are ordered: the stack answers, the sample workflow runs (when the runtime API is there),
then SIGTERM stops the launcher and every process it started.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from devtools.services import free_port

ROOT = Path(__file__).resolve().parent.parent
THREADS = 4  # few request threads, so the probe test can hold every one of them


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
            "--health-port": free_port(), "--demo-port": free_port(),
        }
        env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "TEMPORAL_ADDRESS"}}
        env["DRIFT_VAR_DIR"] = str(var_dir)
        env["DRIFT_ADMIN_PASSWORD"] = "test-admin-password"
        args = [sys.executable, "-m", "devtools.up", "--host", "127.0.0.1", "--threads", str(THREADS)]
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

    def metrics_token(self) -> str:
        match = re.search(r"Authorization: Bearer (\S+)", self.text())
        assert match, self.text()
        return match.group(1)

    def probe(self, path: str) -> tuple[int, bytes]:
        return http("GET", f"http://127.0.0.1:{self.ports['--health-port']}{path}", timeout=10)


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
    assert http("GET", f"{stack.url}/metrics")[0] == 401  # issue 8.10: not anonymous
    status, body = http("GET", f"{stack.url}/metrics", headers={"Authorization": f"Bearer {stack.metrics_token()}"})
    assert status == 200 and b"drift_runs" in body
    status, body = stack.probe("/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    status, body = stack.probe("/readyz")
    assert status == 200 and json.loads(body)["ready"] is True, body
    # Issue 8.8: the demo order service is its own process, never served by the API's threads.
    assert http("GET", f"{stack.url}/demo/oms/orders/42")[0] == 404
    status, body = http("GET", f"http://127.0.0.1:{stack.ports['--demo-port']}/demo/oms/orders/42")
    assert status == 200 and json.loads(body)["status"] == "DELIVERED"
    worker_health = stack.ports["--worker-health-port"]
    assert http("GET", f"http://127.0.0.1:{worker_health}/")[0] == 200

    text = stack.text()
    assert "admin" in text and "test-admin-password" in text
    assert "DRIFT_DEV_ALLOW_LOOPBACK=1" in text and "DEV setting" in text
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


def test_probes_answer_while_every_request_thread_is_busy(stack: Stack) -> None:
    """Issue 8.8: with every API thread held by a sync start (a 4 s wait), the probes still answer at once."""
    headers = {"Authorization": f"Api-Key {stack.api_key()}", "X-Tenant-Id": "demo", "X-Client-Id": "demo",
               "Content-Type": "application/json"}
    pause = {"id": "pause", "name": "pause", "type": "WAIT",
             "config": {"waitType": "SCHEDULER_WAIT", "duration": 4, "executionMode": "SYNC"}}
    done = {"id": "paused_ok", "name": "paused_ok", "type": "SUCCESS", "comment": "ok"}
    flow = {"id": "pause_flow", "name": "pause_flow", "startNode": "p", "states": {
        "p": {"instanceName": "p", "resourceId": "pause", "resourceVersion": "LATEST", "type": "NODE",
              "nextNode": "d"},
        "d": {"instanceName": "d", "resourceId": "paused_ok", "resourceVersion": "LATEST", "type": "NODE",
              "nextNode": None},
    }}
    for kind, body, publish in (("nodeDefinition", pause, "publishNode"), ("nodeDefinition", done, "publishNode"),
                                ("workflowDefinition", flow, "publishWorkflow")):
        assert http("POST", f"{stack.url}/{kind}/", body, headers)[0] == 201
        assert http("POST", f"{stack.url}/{kind}/{body['id']}/{publish}/", None, headers)[0] == 201
        assert http("POST", f"{stack.url}/{kind}/{body['id']}/activate?version=1", None, headers)[0] == 200

    results: list[int] = []

    def slow_start() -> None:
        results.append(http("POST", f"{stack.url}/v3/workflow/start", {"params": {"workflowId": "pause_flow"}},
                            headers, timeout=120)[0])

    holders = [threading.Thread(target=slow_start) for _ in range(THREADS * 2)]
    for holder in holders:
        holder.start()
    try:
        probes = [stack.probe("/healthz")[0], stack.probe("/readyz")[0]]
        in_flight = sum(holder.is_alive() for holder in holders)
    finally:
        for holder in holders:
            holder.join(120)
    assert probes == [200, 200]
    assert in_flight > 0, "the probes should have been answered while the starts held the threads"
    assert sorted(set(results)) == [200], results


class HookReceiver(ThreadingHTTPServer):
    """A local webhook receiver: records every POST (body and headers) and answers 200."""

    def __init__(self) -> None:
        self.calls: list[tuple[bytes, dict[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.calls.append((body, dict(self.headers)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.daemon_threads = True
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


def test_dev_stack_delivers_webhooks_to_a_local_receiver(stack: Stack) -> None:
    """The loopback allowance is the same in the API (start-time check), the worker and Celery (delivery)."""
    headers = {"Authorization": f"Api-Key {stack.api_key()}", "X-Tenant-Id": "demo", "X-Client-Id": "demo",
               "Content-Type": "application/json"}
    status, raw = http("POST", f"{stack.url}/v3/client/webhook/rotate-secret", {}, headers)
    assert status == 200, raw
    secret = json.loads(raw)["webhookSecret"]
    receiver = HookReceiver()
    try:
        body = {"issueDetail": {"issueId": "order_status"}, "params": {"orderId": "42"}, "mode": "ASYNC",
                "callbackUrl": receiver.url}
        status, raw = http("POST", f"{stack.url}/v3/workflow/start", body, headers, timeout=60)
        assert status == 202, raw
        deadline = time.monotonic() + 90
        while not receiver.calls and time.monotonic() < deadline:
            time.sleep(0.2)
        assert receiver.calls, f"no webhook reached the local receiver; celery log:\n{_log_tail(stack, 'celery')}"
    finally:
        receiver.shutdown()
        receiver.server_close()
    payload, call_headers = receiver.calls[0]
    assert json.loads(payload)["workflowId"] == json.loads(raw)["workflowId"]
    expected = "sha256=" + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    assert call_headers["X-Drift-Signature"] == expected
    for name in ("api", "worker", "celery"):  # every process said it runs with the dev allowance
        assert "DEV ONLY: DRIFT_DEV_ALLOW_LOOPBACK" in _log_tail(stack, name, 10**7), name


def _log_tail(stack: Stack, name: str, size: int = 4000) -> str:
    return (stack.var_dir / "logs" / f"{name}.log").read_text(errors="replace")[-size:]


def test_the_dev_loopback_allowance_is_refused_in_production_settings() -> None:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="drift.settings", DRIFT_DEV_ALLOW_LOOPBACK="1",
               DJANGO_SECRET_KEY="a-real-production-secret")
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "DRIFT_DEV_ALLOW_LOOPBACK is for the local dev stack only" in result.stderr
def chunked(url: str, path: str, parts: list[bytes], headers: dict) -> tuple[int, bytes]:
    """POST `parts` with Transfer-Encoding: chunked and no Content-Length (http.client does so for an iterable)."""
    connection = HTTPConnection(urllib.parse.urlsplit(url).netloc, timeout=60)
    try:
        # A server refusing a too-large body may answer and close before the client has sent it all.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
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
    assert set(state["children"]) == {"temporal", "redis", "demo", "api", "worker", "celery"}
    assert processes_mentioning(str(stack.var_dir)), "the children should be running before the stop"

    stack.process.send_signal(signal.SIGTERM)
    assert stack.process.wait(90) == 0, stack.text()
    assert "every process stopped" in stack.text()
    deadline = time.monotonic() + 10
    while processes_mentioning(str(stack.var_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_mentioning(str(stack.var_dir)) == [], "a child of devtools.up outlived it"
