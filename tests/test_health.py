"""/healthz and /readyz against real dependencies that are stopped and started again.

Redis and Temporal: a separate redis-server and a separate persistent Temporal dev server (the
session's own services are left alone), pointed at through settings. The database: a subprocess
with DATABASE_URL on a throwaway MariaDB that is stopped and restarted on the same port, so the
same Django process sees it go down and come back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.test import Client

import drift.temporal
from devtools import services

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.django_db


def readyz() -> tuple[int, dict]:
    response = Client().get("/readyz")
    return response.status_code, response.json()


def wait_until_ready(timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, body = readyz()
        if status == 200 or time.monotonic() > deadline:
            assert status == 200, body
            return body
        time.sleep(0.5)


@pytest.fixture
def redis_service(tmp_path, settings):
    service = services.start_redis(tmp_path)
    settings.REDIS_URL = service.url
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": service.url,
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1, "IGNORE_EXCEPTIONS": True},
        }
    }  # the setting_changed signal drops the cache connections, so the new URL is used
    yield service
    service.kill()


@pytest.fixture
def temporal_service(tmp_path, settings, monkeypatch):
    service = services.start_temporal(tmp_path / "temporal", persistent=True)
    settings.TEMPORAL_ADDRESS = service.url
    monkeypatch.setattr(drift.temporal, "_client", None)  # restored to the session's client afterwards
    yield service
    service.kill()


def test_healthz_is_static() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_with_all_dependencies(redis_service, temporal_service) -> None:
    body = wait_until_ready()
    assert body == {"ready": True, "checks": {"database": "ok", "redis": "ok", "temporal": "ok"}}


def test_redis_down_then_back(redis_service, temporal_service, tmp_path) -> None:
    wait_until_ready()
    redis_service.stop()
    status, body = readyz()
    assert status == 503
    assert body["ready"] is False
    assert body["checks"]["redis"].startswith("down")
    assert body["checks"]["database"] == "ok" and body["checks"]["temporal"] == "ok"

    restarted = services.start_redis(tmp_path / "redis2", port=redis_service.port)
    try:
        assert wait_until_ready()["checks"]["redis"] == "ok"
    finally:
        restarted.kill()


def test_temporal_down_then_back(redis_service, temporal_service, tmp_path) -> None:
    wait_until_ready()
    temporal_service.stop()
    status, body = readyz()
    assert status == 503
    assert body["checks"]["temporal"].startswith("down")
    assert body["checks"]["redis"] == "ok"

    restarted = services.start_temporal(tmp_path / "temporal", port=temporal_service.port, persistent=True)
    try:
        assert wait_until_ready(timeout=60)["checks"]["temporal"] == "ok"
    finally:
        restarted.kill()


def test_unreachable_temporal_never_hangs(settings, monkeypatch) -> None:
    # A non-routable address: connects neither succeed nor get refused; the check must still return.
    settings.TEMPORAL_ADDRESS = "10.255.255.1:7233"
    monkeypatch.setattr(drift.temporal, "_client", None)
    status, body = readyz()
    assert status == 503
    assert body["checks"]["temporal"].startswith("down")


_PROBE = """
import json, sys, django
django.setup()
from django.test import Client
for line in sys.stdin:
    response = Client().get("/readyz")
    print(json.dumps({"status": response.status_code, "body": response.json()}), flush=True)
"""


class ReadyzProbe:
    """A separate Django process (DATABASE_URL on MariaDB) answering one /readyz per input line."""

    def __init__(self, database_url: str) -> None:
        env = dict(os.environ, DATABASE_URL=database_url, DJANGO_SETTINGS_MODULE="drift.settings",
                   DRIFT_DB_CONNECT_TIMEOUT_SECONDS="2")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _PROBE], cwd=ROOT, env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )

    def ask(self) -> dict:
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, "the probe process died"
        return json.loads(line)

    def wait_ready(self, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            answer = self.ask()
            if answer["status"] == 200 or time.monotonic() > deadline:
                return answer
            time.sleep(0.5)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(10)


def test_database_down_then_back(tmp_path) -> None:
    import MySQLdb

    mariadb = services.start_mariadb(tmp_path)
    probe = None
    try:
        MySQLdb.connect(host="127.0.0.1", port=mariadb.port, user="root").cursor().execute(
            "CREATE DATABASE IF NOT EXISTS drift"
        )
        probe = ReadyzProbe(mariadb.url)
        answer = probe.wait_ready()
        assert answer["status"] == 200, answer
        assert answer["body"]["checks"]["database"] == "ok"

        mariadb.stop()
        answer = probe.ask()
        assert answer["status"] == 503, answer
        assert answer["body"]["checks"]["database"].startswith("down")

        mariadb = services.start_mariadb(tmp_path, port=mariadb.port)
        answer = probe.wait_ready()
        assert answer["status"] == 200, answer
    finally:
        if probe:
            probe.close()
        mariadb.kill()
