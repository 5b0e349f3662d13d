"""n8n side by side with Drift, the same work on both (opt-in: never run by the tests or CI).

    .venv/bin/python bench/n8n.py [--runs 30] [--concurrent 50] [--resumes 200] [--skip-drift]

Installs n8n from the npm registry into var/n8n (pinned N8N_VERSION; `npm install --prefix var/n8n`), imports two
workflows into a fresh n8n user folder with n8n's own CLI, starts `n8n start` on a free loopback port, and runs:
(a) latency p50 of a chain of 10 script steps (Drift: 10 SCRIPT nodes + SUCCESS, sync start over REST; n8n:
    a webhook answering with the last of 10 Code nodes), sequential runs;
(b) runs/s of N concurrent runs of that chain;
(c) M concurrent start + resume runs of the order flow (Drift: the sample order_status, answered at WAITING,
    resumed over REST; n8n: webhook, HTTP Request, IF, Respond to Webhook with the execution's resume URL, Wait
    on a webhook, Code), both against the same order service in this process.
Drift runs first as `devtools.up` brings it up (gunicorn API + the worker with its default processes, one per core,
SQLite, payload encryption on), then is stopped, and n8n runs alone on the machine with its defaults (SQLite,
regular execution mode; task runners are off by default in 1.x, so Code nodes run in n8n's main process).
n8n is a plain npm install (no skipped scripts or optional deps) of N8N_VERSION; why that one: see the constant.
Each side is measured over HTTP from this process, with the same client code.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import REPLY, RestClient, Stack, rest_start_and_resume, start_order_service  # noqa: E402
from bench.baseline import STEPS  # noqa: E402
from bench.engine import _drift_definitions  # noqa: E402
from devtools.services import free_port, wait_for_port  # noqa: E402

# The newest n8n on the registry whose tree builds on Node 20: 2.x asks for Node >= 24, and from 1.123.66 on n8n pulls
# @n8n/expression-runtime, whose isolated-vm 6 needs Node >= 22 (its native build fails on Node 20).
N8N_VERSION = "1.123.50"
XLSX_FROM_REGISTRY = "0.18.5"
N8N_DIR = ROOT / "var" / "n8n"
START = 3  # the chain's input; both sides compute s_k = s_(k-1) * 2 + k from it


def expected_chain_result() -> int:
    value = START
    for step in range(STEPS):
        value = value * 2 + step
    return value


@dataclass
class Figures:
    latency_p50_ms: float
    runs_per_s: float
    resumes_per_s: float


# --- n8n: install, workflows, server -------------------------------------------------------------------------

def n8n_binary() -> Path:
    binary = N8N_DIR / "node_modules" / ".bin" / "n8n"
    installed = N8N_DIR / "node_modules" / "n8n" / "package.json"
    if not installed.exists() or json.loads(installed.read_text())["version"] != N8N_VERSION:
        print(f"installing n8n@{N8N_VERSION} into {N8N_DIR} (npm; a few minutes the first time)", flush=True)
        N8N_DIR.mkdir(parents=True, exist_ok=True)
        # n8n-nodes-base pins xlsx to a tarball on SheetJS's own CDN, which only the npm registry can replace
        # here: the registry's last xlsx instead (only the spreadsheet node uses it; neither workflow does).
        manifest = {"name": "drift-bench-n8n", "private": True, "overrides": {"xlsx": XLSX_FROM_REGISTRY}}
        (N8N_DIR / "package.json").write_text(json.dumps(manifest))
        subprocess.run(["npm", "install", "--prefix", str(N8N_DIR), f"n8n@{N8N_VERSION}", "--no-audit",
                        "--no-fund", "--loglevel=error"], check=True)
    return binary


def _node(name: str, kind: str, version: float, position: int, **parameters) -> dict:
    node = {"id": str(uuid.uuid4()), "name": name, "type": f"n8n-nodes-base.{kind}", "typeVersion": version,
            "position": [position * 220, 0], "parameters": parameters}
    if kind in ("webhook", "wait"):
        node["webhookId"] = str(uuid.uuid4())
    return node


def _links(*pairs: tuple[str, str] | tuple[str, str, int]) -> dict:
    """n8n's connections: {source: {"main": [[targets of output 0], [targets of output 1]]}}."""
    connections: dict = {}
    for source, target, *output in pairs:
        index = output[0] if output else 0
        outputs = connections.setdefault(source, {"main": []})["main"]
        outputs.extend([] for _ in range(index + 1 - len(outputs)))
        outputs[index].append({"node": target, "type": "main", "index": 0})
    return connections


def chain_workflow() -> dict:
    """Webhook -> 10 Code nodes; the webhook answers with the last node's item when the run ends."""
    nodes = [_node("start", "webhook", 2, 0, httpMethod="POST", path="bench-chain", responseMode="lastNode",
                   options={})]
    for step in range(STEPS):
        source = "$input.first().json.body.start" if step == 0 else "$input.first().json.v"
        code = f"return [{{json: {{v: {source} * 2 + {step}}}}}];"
        nodes.append(_node(f"step{step}", "code", 2, step + 1, jsCode=code))
    pairs = [("start", "step0")] + [(f"step{step}", f"step{step + 1}") for step in range(STEPS - 1)]
    return {"id": "benchChain000001", "name": "bench chain", "active": True, "nodes": nodes,
            "connections": _links(*pairs), "settings": {"executionOrder": "v1"}}


def order_workflow(orders_url: str) -> dict:
    """order_status in n8n: fetch the order; if returnable answer WAITING with the resume URL and wait for it."""
    returnable = "={{ $json.status === 'DELIVERED' && $json.returnable === true }}"
    nodes = [
        _node("start", "webhook", 2, 0, httpMethod="POST", path="bench-order", responseMode="responseNode",
              options={}),
        _node("get_order", "httpRequest", 4.2, 1, url=f"={{{{ '{orders_url}/orders/' + $json.body.orderId }}}}",
              options={}),
        _node("decide", "if", 1, 2, conditions={"boolean": [{"value1": returnable, "value2": True}]}),
        _node("ask_reason", "code", 2, 3,
              jsCode="return [{json: {workflowStatus: 'WAITING', resumeUrl: $execution.resumeUrl}}];"),
        _node("answer", "respondToWebhook", 1.1, 4, respondWith="firstIncomingItem", options={}),
        _node("wait", "wait", 1.1, 5, resume="webhook", httpMethod="POST", responseMode="lastNode", options={}),
        _node("record_reason", "code", 2, 6, jsCode="const reason = $input.first().json.body.viewResponse"
              ".selectedOptions.reason;\nreturn [{json: {workflowStatus: 'COMPLETED', reason}}];"),
        _node("show_status", "code", 2, 3, jsCode="return [{json: {workflowStatus: 'COMPLETED', "
              "status: $input.first().json.status}}];"),
        _node("answer_status", "respondToWebhook", 1.1, 4, respondWith="firstIncomingItem", options={}),
    ]
    pairs = [("start", "get_order"), ("get_order", "decide"), ("decide", "ask_reason", 0),
             ("decide", "show_status", 1), ("ask_reason", "answer"), ("answer", "wait"), ("wait", "record_reason"),
             ("show_status", "answer_status")]
    return {"id": "benchOrder000001", "name": "bench order", "active": True, "nodes": nodes,
            "connections": _links(*pairs), "settings": {"executionOrder": "v1"}}


class N8n:
    """`n8n start` on a free loopback port with its own user folder (its SQLite database inside)."""

    def __init__(self, workflows: list[dict]) -> None:
        self.binary = n8n_binary()
        self.folder = Path(tempfile.mkdtemp(prefix="drift-bench-n8n-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "N8N_USER_FOLDER": str(self.folder), "N8N_PORT": str(self.port),
                    "N8N_LISTEN_ADDRESS": "127.0.0.1", "WEBHOOK_URL": f"{self.url}/",
                    "N8N_DIAGNOSTICS_ENABLED": "false", "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
                    "N8N_TEMPLATES_ENABLED": "false", "N8N_PERSONALIZATION_ENABLED": "false",
                    "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "false", "N8N_LOG_LEVEL": "info",
                    "EXECUTIONS_MODE": "regular", "N8N_SECURE_COOKIE": "false"}
        self._import(workflows)
        self.log = self.folder / "n8n.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen([str(self.binary), "start"], env=self.env, stdout=out,
                                            stderr=subprocess.STDOUT)
        wait_for_port(self.port, 180, self.process, "n8n")
        self._wait_healthy()

    def _cli(self, *args: str) -> None:
        result = subprocess.run([str(self.binary), *args], env=self.env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"n8n {' '.join(args)} failed ({result.returncode}):\n{result.stdout}{result.stderr}")

    def _import(self, workflows: list[dict]) -> None:
        # The CLI imports workflows inactive; webhooks listen only on active ones.
        path = self.folder / "workflows.json"
        path.write_text(json.dumps(workflows))
        self._cli("import:workflow", f"--input={path}")
        for workflow in workflows:
            self._cli("update:workflow", f"--id={workflow['id']}", "--active=true")

    def _wait_healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                # readiness answers before the webhook routes are mounted; n8n logs this line after them
                ready = requests.get(f"{self.url}/healthz/readiness", timeout=2).status_code == 200
                if ready and "Editor is now accessible" in self.log.read_text(errors="replace"):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"n8n not ready within {timeout}s; see {self.log}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


class N8nClient:
    def __init__(self, n8n: N8n) -> None:
        self.url = n8n.url
        self.session = requests.Session()

    def chain(self) -> None:
        response = self.session.post(f"{self.url}/webhook/bench-chain", json={"start": START}, timeout=120)
        assert response.status_code == 200 and response.json()["v"] == expected_chain_result(), response.text

    def start_and_resume(self) -> None:
        response = self.session.post(f"{self.url}/webhook/bench-order", json={"orderId": "42"}, timeout=120)
        waiting = response.json()
        assert response.status_code == 200 and waiting["workflowStatus"] == "WAITING", response.text
        done = self.session.post(waiting["resumeUrl"], json=REPLY, timeout=120)
        assert done.status_code == 200 and done.json()["workflowStatus"] == "COMPLETED", done.text


# --- measuring, the same for both sides ----------------------------------------------------------------------

def latencies(call: Callable[[], object], runs: int) -> list[float]:
    for _ in range(3):  # warm up connections, caches, sandboxes
        call()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return timings


def rate(call: Callable[[], object], count: int) -> float:
    """Runs per second of `count` calls at once, each on its own thread (its own HTTP connection)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(lambda _: call(), range(count)))
    return count / (time.perf_counter() - started)


def measure(chain: Callable[[], None], new_chain: Callable[[], Callable[[], None]],
            start_and_resume: Callable[[], object], args: argparse.Namespace) -> Figures:
    p50 = statistics.median(latencies(chain, args.runs)) * 1000
    # one client per thread: requests.Session is not thread-safe
    return Figures(p50, rate(lambda: new_chain()(), args.concurrent), rate(start_and_resume, args.resumes))


# --- Drift ---------------------------------------------------------------------------------------------------

def drift_figures(args: argparse.Namespace) -> Figures:
    stack = Stack(threads=16)
    try:
        stack.setup_django_here()
        _publish_chain()
        return measure(_drift_chain(stack), lambda: _drift_chain(stack), lambda: rest_start_and_resume(stack), args)
    finally:
        stack.stop()


def _publish_chain() -> None:
    from apps.definitions.models import Kind
    from apps.definitions.services import definition_sync, route_save

    nodes, workflow = _drift_definitions()
    for node in nodes:
        definition_sync(tenant="demo", kind=Kind.NODE, body=node, actor="bench")
    definition_sync(tenant="demo", kind=Kind.WORKFLOW, body=workflow, actor="bench")
    route_save(tenant="demo", issue_id="bench_chain", workflow_key=workflow["id"], actor="bench")


def _drift_chain(stack: Stack) -> Callable[[], None]:
    client = RestClient(stack)
    body = {"issueDetail": {"issueId": "bench_chain"}, "params": {"start": START}}

    def run() -> None:
        response = client.session.post(f"{stack.url}/v3/workflow/start", json=body, headers=client.headers)
        state = client._stable(response)
        assert state["workflowStatus"] == "COMPLETED", state

    return run


# --- n8n -----------------------------------------------------------------------------------------------------

def n8n_figures(args: argparse.Namespace) -> Figures:
    orders = start_order_service()
    n8n = N8n([chain_workflow(), order_workflow(orders)])
    try:
        return measure(N8nClient(n8n).chain, lambda: N8nClient(n8n).chain,
                       lambda: N8nClient(n8n).start_and_resume(), args)
    finally:
        n8n.stop()


def report(drift: Figures | None, n8n: Figures, args: argparse.Namespace) -> None:
    node_version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"n8n {N8N_VERSION} (Node {node_version}, SQLite, regular mode) vs Drift (devtools.up: gunicorn API, "
          "the worker's default processes (one per core), SQLite, payload encryption on), both over HTTP from here")
    rows = [(f"(a) latency p50, {STEPS} script steps, {args.runs} sequential runs", "latency_p50_ms", "ms", "<= 1.5x"),
            (f"(b) {args.concurrent} concurrent runs of that chain", "runs_per_s", "runs/s", ">= 1.0x"),
            (f"(c) {args.resumes} concurrent start + resume", "resumes_per_s", "runs/s", ">= 0.6x")]
    for title, field, unit, target in rows:
        theirs = getattr(n8n, field)
        line = f"    n8n {theirs:8.1f} {unit}"
        if drift is not None:
            ours = getattr(drift, field)
            line = f"    drift {ours:8.1f} {unit}{line}   ratio drift/n8n {ours / theirs:.2f}  (issue 26: {target})"
        print(title)
        print(line)
    print(f"load average at the end: {' '.join(f'{load:.2f}' for load in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="sequential runs for the latency p50")
    parser.add_argument("--concurrent", type=int, default=50, help="concurrent runs of the chain")
    parser.add_argument("--resumes", type=int, default=200, help="concurrent start + resume runs")
    parser.add_argument("--skip-drift", action="store_true", help="n8n's figures alone")
    args = parser.parse_args()
    drift = None if args.skip_drift else drift_figures(args)
    report(drift, n8n_figures(args), args)


if __name__ == "__main__":
    main()
