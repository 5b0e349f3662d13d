"""pytest plugin (`-p devtools.testing.plugin`): registers the shared fixture modules of devtools/testing.

Plugins named with `-p` are imported before pytest-django loads Django's settings, and the fixture modules
import models; so they are registered here, in `pytest_configure`, which runs after the settings are set up.
"""

from __future__ import annotations

import pytest

# Before any of the package is imported (a folder's conftest.py may import it before `pytest_configure`): its
# helpers' asserts report like a test's.
pytest.register_assert_rewrite("devtools.testing")

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
