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


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus) -> None:
    """Replay every run this session closed against the current workflow code, inside Temporal's sandbox.

    The worker runs the interpreter unsandboxed (as in production; on CPython 3.11.7 the sandbox's
    per-run compiles in the worker thread also race pytest's own in the main thread), so this is where
    nondeterminism would show: a failed replay fails the session.
    """
    if exitstatus != 0 or not any(service.name == "temporal" for service in _started):
        return
    if os.environ.get("DRIFT_TEST_DATABASE") == "mysql":
        return  # the SQLite pass already replayed the same code
    import asyncio

    from temporalio.client import Client

    from drift.codec import data_converter
    from worker.replay import fetch_closed_histories, replay_histories
    from worker.tests.plugins import register_for_replay

    register_for_replay()  # the test-only node and state types the session's runs were recorded with

    async def replay_all():
        client = await Client.connect(os.environ["TEMPORAL_ADDRESS"], data_converter=data_converter())
        return await replay_histories(await fetch_closed_histories(client))

    report = asyncio.run(replay_all())
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = [f"replay: {len(report.outcomes)} closed runs of this session, {len(report.failures)} failed"]
    lines += [f"  {outcome.workflow_id}: {outcome.error}" for outcome in report.failures]
    for line in lines:
        reporter.write_line(line) if reporter else print(line)
    if not report.ok:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config) -> None:
    while _started:
        _started.pop().stop()
    data_dir = os.environ.get("DRIFT_TEST_DATA_DIR")
    if data_dir and os.environ.get("DRIFT_KEEP_TEST_DATA") != "1":
        shutil.rmtree(data_dir, ignore_errors=True)


def started_service(name: str) -> services.Service:
    """The Service object this plugin started (tests that stop and restart it need it)."""
    return next(service for service in _started if service.name == name)
