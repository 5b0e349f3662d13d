"""pytest plugin: start the real services before Django's settings load.

Loaded with `-p devtools.pytest_services` (see pyproject.toml), so it runs before
pytest-django reads the settings. Starts a Temporal dev server, redis-server and,
with DRIFT_TEST_DATABASE=mysql, MariaDB as the default database. Set
DRIFT_TEST_SERVICES=external to use services already named by the environment.

Under pytest-xdist (`-n N`) every worker process starts its own services, on free ports
with its own data folder (so its own test database), and replays the runs it closed; the
controller starts nothing, gathers the workers' replay reports and fails the session on any.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from devtools import services

_started: list[services.Service] = []
_worker_replays: list[dict] = []  # on the xdist controller: each worker's replay report


def _is_xdist_controller(config) -> bool:
    """True in the process that hands tests to xdist workers and runs none itself."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return False
    namespace = getattr(config, "known_args_namespace", None) or config.option
    return bool(getattr(namespace, "numprocesses", None))  # -n 0 runs the tests in this process


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args) -> None:
    if os.environ.get("DRIFT_TEST_SERVICES") == "external" or _is_xdist_controller(early_config):
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
    if _is_xdist_controller(session.config):
        _report_worker_replays(session)
        return
    if exitstatus != 0 or not any(service.name == "temporal" for service in _started):
        return
    if os.environ.get("DRIFT_TEST_DATABASE") == "mysql":
        return  # the SQLite pass already replayed the same code
    lines, ok = _replay_closed_runs()
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: its output is not shown, the controller reports it
        workeroutput["drift_replay"] = {"lines": lines, "ok": ok}
        return
    _write_lines(session, lines)
    if not ok:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _replay_closed_runs() -> tuple[list[str], bool]:
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
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    where = f"closed runs of this session ({worker})" if worker else "closed runs of this session"
    lines = [f"replay: {len(report.outcomes)} {where}, {len(report.failures)} failed"]
    lines += [f"  {outcome.workflow_id}: {outcome.error}" for outcome in report.failures]
    return lines, report.ok


@pytest.hookimpl(optionalhook=True)  # an xdist hook: unknown without xdist
def pytest_testnodedown(node, error) -> None:
    """xdist controller: keep each worker's replay report (a worker that crashed has none: xdist fails it)."""
    replay = getattr(node, "workeroutput", {}).get("drift_replay")
    if replay is not None:
        _worker_replays.append(replay)


def _report_worker_replays(session) -> None:
    for replay in _worker_replays:
        _write_lines(session, replay["lines"])
    if any(not replay["ok"] for replay in _worker_replays):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _write_lines(session, lines: list[str]) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for line in lines:
        reporter.write_line(line) if reporter else print(line)


def pytest_unconfigure(config) -> None:
    # All asked at once, then each awaited (killed past its grace): an xdist worker that takes too long to finish is
    # killed by the controller, and a server it had not stopped yet would outlive the session.
    running = list(reversed(_started))
    _started.clear()
    for service in running:
        service.ask_to_stop()
    for service in running:
        try:
            service.stop()
        except Exception:  # noqa: BLE001 - reported, then the rest are still stopped
            print(f"drift test services: stopping {service.name} failed; killing it", file=sys.stderr)
            service.kill()
    data_dir = os.environ.get("DRIFT_TEST_DATA_DIR")
    if data_dir and os.environ.get("DRIFT_KEEP_TEST_DATA") != "1":
        shutil.rmtree(data_dir, ignore_errors=True)


def started_service(name: str) -> services.Service:
    """The Service object this plugin started (tests that stop and restart it need it)."""
    return next(service for service in _started if service.name == name)
