"""Fixtures: the in-memory HBase Thrift stand-in (devtools/hbase_thrift.py), once per session, and switching
the context store to it."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from django.core.management import call_command

from devtools import services


@pytest.fixture(scope="session")
def hbase_thrift(tmp_path_factory) -> Iterator[services.Service]:
    service = services.start_hbase_thrift(tmp_path_factory.mktemp("hbase"))
    yield service
    service.stop()


def use_hbase(settings, port: int) -> None:
    settings.DRIFT_CONTEXT_STORE = "hbase"
    settings.HBASE_HOST = "127.0.0.1"
    settings.HBASE_PORT = port
    settings.HBASE_TABLE_PREFIX = "test"
    call_command("hbase_init", stdout=io.StringIO())
