"""pytest plugin: start the real services before Django's settings load.

Loaded with `-p devtools.pytest_services` (see pyproject.toml), so it runs before
pytest-django reads the settings. Starts a Temporal dev server, redis-server and,
with DRIFT_TEST_DATABASE=mysql, MariaDB as the default database. Set
DRIFT_TEST_SERVICES=external to use services already named by the environment.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from devtools import services

_started: list[services.Service] = []


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args) -> None:
    if os.environ.get("DRIFT_TEST_SERVICES") == "external":
        return
    data_dir = Path(tempfile.mkdtemp(prefix="drift-test-"))
    os.environ["DRIFT_VAR_DIR"] = str(data_dir)
    os.environ.setdefault("DRIFT_SCRIPT_WORKERS", "2")
    os.environ.setdefault("DRIFT_WORKFLOW_SANDBOX", "1")  # tests run the interpreter sandboxed: catches nondeterminism
    redis = services.start_redis(data_dir)
    temporal = services.start_temporal(data_dir, persistent=False)
    _started.extend([redis, temporal])
    os.environ["REDIS_URL"] = redis.url
    os.environ["TEMPORAL_ADDRESS"] = temporal.url
    os.environ["DRIFT_TEST_DATA_DIR"] = str(data_dir)
    if os.environ.get("DRIFT_TEST_DATABASE") == "mysql":
        mariadb = services.start_mariadb(data_dir)
        _started.append(mariadb)
        os.environ["DATABASE_URL"] = mariadb.url


def pytest_unconfigure(config) -> None:
    while _started:
        _started.pop().stop()
    data_dir = os.environ.get("DRIFT_TEST_DATA_DIR")
    if data_dir and os.environ.get("DRIFT_KEEP_TEST_DATA") != "1":
        shutil.rmtree(data_dir, ignore_errors=True)


def started_service(name: str) -> services.Service:
    """The Service object this plugin started (tests that stop and restart it need it)."""
    return next(service for service in _started if service.name == name)
