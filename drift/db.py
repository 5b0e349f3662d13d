"""One SQLite writer at a time across Drift's processes; and two cheap lookups for the run path.

SQLite takes one writer at a time, and a writer that finds the database locked sleeps in SQLite's busy handler
(1, 2, 5 ... 100 ms between tries) instead of queueing: with 200 concurrent runs a start or a persist waited
~150 ms for a lock held a fraction of that (bench/profile_engine.py). So the writes on a run's path (the worker's
activities, the API's Run row of a start) queue on a lock of their own instead, each woken as soon as the previous
one is done: a thread lock within the process, and an exclusive file lock beside the database file across the
processes (the API, several worker processes). On MySQL/TiDB both are no-ops.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

from django.db import connection, models
from django.db.models import QuerySet

T = TypeVar("T")
M = TypeVar("M", bound=models.Model)

_THREADS = threading.Lock()
_lock_file: int | None = None


def _writer_lock_file() -> int:
    global _lock_file
    if _lock_file is None:
        path = f"{connection.settings_dict['NAME']}.writer-lock"
        _lock_file = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    return _lock_file


@contextlib.contextmanager
def _sqlite_lock() -> Iterator[None]:
    with _THREADS:
        fd = _writer_lock_file()
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocks in the kernel, woken at the other process's unlock
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def sqlite_writer() -> contextlib.AbstractContextManager[None]:
    """Hold the writer lock on SQLite (a no-op elsewhere) around a write transaction."""
    return _sqlite_lock() if connection.vendor == "sqlite" else contextlib.nullcontext()


def one_writer(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn` inside `sqlite_writer()`."""

    @functools.wraps(fn)
    def wrapper(*args: object) -> T:
        with sqlite_writer():
            return fn(*args)

    return wrapper


def row_exists(model: type[models.Model], **equal: object) -> bool:
    """Whether a row of `model` has these column values: `filter(**equal).exists()` without the ORM's query
    compilation, which cost a run's final persist a sixth of its CPU for one indexed `SELECT 1` (the admission
    queue, asked at every run's end). Plain equality on concrete fields only."""
    quote = connection.ops.quote_name
    where = " AND ".join(f"{quote(model._meta.get_field(name).column)} = %s" for name in equal)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {quote(model._meta.db_table)} WHERE {where} LIMIT 1", list(equal.values()))
        return cursor.fetchone() is not None


def the_row(queryset: QuerySet[M]) -> M | None:
    """The one row a lookup by a unique key finds, or None. Unlike `first()`, without an ORDER BY (the model's
    ordering, or the pk's): one row needs none, and building it was a tenth of the API's CPU per request."""
    return next(iter(queryset.order_by()[:1]), None)
