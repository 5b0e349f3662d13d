"""Liveness and readiness.

`/healthz` answers as long as the process serves requests (liveness: never touches a dependency).
`/readyz` checks the database, Redis and Temporal on every call and answers 503 with the failing
checks when any is down. Every check is bounded (DRIFT_READINESS_TIMEOUT_SECONDS, default 2 s):
Redis and Temporal run concurrently on a small pool while the database is checked on the request
thread (Django connections are per thread), so a call takes at most about one timeout and never hangs.
Nothing is cached between calls: a dependency that comes back makes the next call ready again.

Both also answer on a probe port of their own (DRIFT_HEALTH_PORT, `serve_probes`, started in every gunicorn
worker by drift/gunicorn_conf.py): a tiny threaded HTTP server beside gunicorn's request threads, so probes
answer at once however many requests queue for those threads (issue 8.8). Kubernetes probes use that port;
the routes on the API port stay for humans and old scripts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

from django.conf import settings
from django.db import connections
from django.http import JsonResponse

from drift.redis_conn import shared_connection

logger = logging.getLogger(__name__)
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="readyz")


def _timeout() -> float:
    return float(settings.DRIFT_READINESS_TIMEOUT_SECONDS)


def _check_database() -> None:
    connection = connections["default"]
    for attempt in (1, 2):
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return
        except Exception:
            # A connection kept from before an outage is dropped and tried once more, so a database
            # that came back is seen at once (not inside a transaction: that connection is not ours).
            if attempt == 2 or connection.in_atomic_block:
                raise
            connection.close()


def _check_redis() -> None:
    connection = shared_connection()
    if connection is None:
        return
    # The raw client raises (django-redis' IGNORE_EXCEPTIONS covers only cache calls); socket
    # timeouts of the cache settings bound it.
    connection.ping()


def _check_temporal() -> None:
    from drift.temporal import run_async, temporal_client

    timeout = _timeout()

    async def probe() -> None:
        client = await asyncio.wait_for(temporal_client(), timeout)
        await asyncio.wait_for(client.service_client.check_health(timeout=timedelta(seconds=timeout)), timeout)

    run_async(probe(), timeout + 0.5)


CHECKS = {"database": _check_database, "redis": _check_redis, "temporal": _check_temporal}
_CONCURRENT = ("redis", "temporal")


def _describe(exc: BaseException) -> str:
    if isinstance(exc, (FutureTimeout, asyncio.TimeoutError, TimeoutError)):
        return f"down: timed out after {_timeout()}s"
    return f"down: {type(exc).__name__}: {exc}"[:300]


def run_checks() -> dict[str, str]:
    timeout = _timeout()
    futures = {name: _pool.submit(CHECKS[name]) for name in _CONCURRENT if name in CHECKS}
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        if name in futures:
            continue
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # a readiness probe reports every failure, whatever its type
            results[name] = _describe(exc)
    for name, future in futures.items():
        try:
            future.result(timeout + 1)
            results[name] = "ok"
        except Exception as exc:
            results[name] = _describe(exc)
    return {name: results[name] for name in CHECKS}


def readiness() -> tuple[int, dict]:
    results = run_checks()
    ready = all(value == "ok" for value in results.values())
    return (200 if ready else 503), {"ready": ready, "checks": results}


def healthz(request):
    return JsonResponse({"status": "ok"})


def readyz(request):
    status, body = readiness()
    response = JsonResponse(body, status=status)
    if status != 200:
        response["Retry-After"] = "5"
    return response


class _ProbeHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server API
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/healthz":
            status, body = 200, {"status": "ok"}
        elif path == "/readyz":
            try:
                status, body = readiness()
            finally:
                connections.close_all()  # this thread's database connection: one thread per probe
        else:
            status, body = 404, {"error": "NOT_FOUND", "message": "Probes: /healthz and /readyz."}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 503:
            self.send_header("Retry-After", "5")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        return  # probes every few seconds would flood the log


class _ProbeServer(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        # Every gunicorn worker of the pod binds the same port; the kernel spreads probes between them.
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


def serve_probes(port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer | None:
    """Answer /healthz and /readyz on `port` from a thread of this process (0 or less: not at all)."""
    if port <= 0:
        return None
    try:
        server = _ProbeServer((host, port), _ProbeHandler)
    except OSError:
        logger.exception("probe server could not bind port %s", port)
        return None
    Thread(target=server.serve_forever, name="probes", daemon=True).start()
    return server
