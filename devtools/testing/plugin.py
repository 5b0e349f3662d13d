"""pytest plugin (`-p devtools.testing.plugin`): registers the shared fixture modules of devtools/testing.

Plugins named with `-p` are imported before pytest-django loads Django's settings, and the fixture modules
import models; so they are registered here, in `pytest_configure`, which runs after the settings are set up.
"""

from __future__ import annotations

import pkgutil

import pytest

import devtools.testing

# Before any helper module is imported (a folder's conftest.py may import one before `pytest_configure`): their
# asserts report like a test's.
pytest.register_assert_rewrite(*(f"devtools.testing.{module.name}" for module in
                                 pkgutil.iter_modules(devtools.testing.__path__) if module.name != "plugin"))

FIXTURE_MODULES = (
    "devtools.testing.tenancy",  # tenant, api, fast_password_hashing
    "devtools.testing.temporal",  # temporal, worker, runs, own_temporal
    "devtools.testing.samples",  # oms, samples
    "devtools.testing.celery",  # celery_worker, celery_pool
    "devtools.testing.receivers",  # threaded_httpserver
    "devtools.testing.hbase",  # hbase_thrift
    "devtools.testing.tasks",  # operators, refund_flow
)


def pytest_configure(config: pytest.Config) -> None:
    for name in FIXTURE_MODULES:
        config.pluginmanager.import_plugin(name)
