"""Run context store: `get_context_store()` returns the backend named by settings.DRIFT_CONTEXT_STORE."""

from __future__ import annotations

import os
import threading

from django.conf import settings

from apps.runs.context_store.base import ContextStore, StoredContext, UnstorableContext

__all__ = ["ContextStore", "StoredContext", "UnstorableContext", "get_context_store"]

_lock = threading.Lock()
_stores: dict[tuple, ContextStore] = {}


def _settings_key() -> tuple:
    # The pid keeps a forked process (celery prefork, gunicorn) off its parent's sockets; the
    # HBase settings let tests point the store elsewhere with the `settings` fixture.
    backend = settings.DRIFT_CONTEXT_STORE
    if backend == "hbase":
        return os.getpid(), backend, settings.HBASE_HOST, settings.HBASE_PORT, settings.HBASE_TABLE_PREFIX
    return os.getpid(), backend


def _build(backend: str) -> ContextStore:
    if backend == "sql":
        from apps.runs.context_store.sql import SqlContextStore

        return SqlContextStore()
    if backend == "hbase":
        from apps.runs.context_store.hbase import HBaseContextStore

        return HBaseContextStore.from_settings()
    raise ValueError(f"DRIFT_CONTEXT_STORE must be 'sql' or 'hbase', not {backend!r}")


def get_context_store() -> ContextStore:
    """The configured backend, built once per process (and per HBase address)."""
    key = _settings_key()
    with _lock:
        if key not in _stores:
            _stores[key] = _build(key[1])
        return _stores[key]
