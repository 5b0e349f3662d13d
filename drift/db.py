"""One SQLite writer at a time across Drift's processes; and cheap lookups and updates for the run path.

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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
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


# Lookups and guarded updates on the run path, their SQL built once per shape (model, columns, conditions,
# database) instead of by the ORM's query compilation on every call: compiling cost more CPU than SQLite's
# execution of these one-row statements (the API key of every request, a persist's Run row and context). Plain
# equality on concrete fields, and `<field>__lt` for the seq guards.
_OPERATORS = {"": "=", "lt": "<"}


def _condition(model: type[models.Model], key: str, qualified: bool) -> tuple[models.Field, str]:
    name, _, lookup = key.partition("__")
    field = model._meta.pk if name == "pk" else model._meta.get_field(name)
    column = _column(model, field) if qualified else connection.ops.quote_name(field.column)
    return field, f"{column} {_OPERATORS[lookup]} %s"


def _column(model: type[models.Model], field: models.Field) -> str:
    quote = connection.ops.quote_name
    return f"{quote(model._meta.db_table)}.{quote(field.column)}"


def _where(model: type[models.Model], keys: tuple[str, ...], qualified: bool = False,
           ) -> tuple[list[models.Field], str]:
    conditions = [_condition(model, key, qualified) for key in keys]
    return [field for field, _ in conditions], " AND ".join(sql for _, sql in conditions)


def _params(fields: list[models.Field], values: Iterable[object]) -> list[object]:
    return [field.get_db_prep_value(field.get_prep_value(value), connection, prepared=True)
            for field, value in zip(fields, values, strict=True)]


@dataclass(frozen=True)
class _Part:
    """The columns of one model in a prepared SELECT: its fields in the model's order (Model.from_db takes a subset
    of the values in that order) and each one's converters from the database's values."""

    model: type[models.Model]
    fields: list[models.Field]
    converters: list[list[Callable]]

    @classmethod
    def of(cls, model: type[models.Model], columns: tuple[str, ...] | None) -> _Part:
        wanted = {model._meta.pk.name, *columns} if columns else None
        fields = [field for field in model._meta.concrete_fields if wanted is None or field.name in wanted]
        if wanted is not None and len(fields) != len(wanted):
            raise ValueError(f"{model.__name__} has no concrete fields {wanted - {field.name for field in fields}}")
        # Built on one thread's connection and kept for all: the converters read only settings (the database's
        # time zone), the same on every connection of the process.
        converters = [connection.ops.get_db_converters(field.get_col(model._meta.db_table))
                      + field.get_db_converters(connection) for field in fields]
        return cls(model, fields, converters)

    def build(self, row: tuple) -> models.Model:
        values = []
        for field, value, converters in zip(self.fields, row, self.converters, strict=True):
            for convert in converters:
                value = convert(value, field, connection)
            values.append(value)
        return self.model.from_db(connection.alias, [field.attname for field in self.fields], values)


@functools.cache
def _select(model: type[models.Model], columns: tuple[str, ...] | None, related: str | None, keys: tuple[str, ...],
            vendor: str) -> tuple[str, list[_Part], list[models.Field]]:
    parts = [_Part.of(model, columns)]
    quote = connection.ops.quote_name
    source = quote(model._meta.db_table)
    if related is not None:
        foreign_key = model._meta.get_field(related)
        target = foreign_key.related_model
        parts.append(_Part.of(target, None))
        source += (f" INNER JOIN {quote(target._meta.db_table)} ON {_column(model, foreign_key)} = "
                   f"{_column(target, target._meta.pk)}")
    where_fields, where = _where(model, keys, qualified=True)
    selected = ", ".join(_column(part.model, field) for part in parts for field in part.fields)
    return f"SELECT {selected} FROM {source} WHERE {where} LIMIT 1", parts, where_fields


def row_of(model: type[M], columns: tuple[str, ...] | None = None, related: str | None = None,
           **equal: object) -> M | None:
    """The one row of `model` matching `equal` (a unique key), as `the_row(model.objects.only(*columns)
    .select_related(related).filter(**equal))` finds it: the other columns deferred (all without `columns`),
    the row of the foreign key `related` joined in. None when there is none."""
    sql, parts, where_fields = _select(model, columns, related, tuple(equal), connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, _params(where_fields, equal.values()))
        row = cursor.fetchone()
    if row is None:
        return None
    found = parts[0].build(row[:len(parts[0].fields)])
    if related is not None:
        setattr(found, related, parts[1].build(row[len(parts[0].fields):]))
    return found  # type: ignore[return-value]


@functools.cache
def _exists(model: type[models.Model], keys: tuple[str, ...], vendor: str) -> tuple[str, list[models.Field]]:
    where_fields, where = _where(model, keys)
    return f"SELECT 1 FROM {connection.ops.quote_name(model._meta.db_table)} WHERE {where} LIMIT 1", where_fields


def row_exists(model: type[models.Model], **equal: object) -> bool:
    """Whether a row of `model` matches `equal`: `filter(**equal).exists()` (the admission queue, asked at every
    run's end)."""
    sql, where_fields = _exists(model, tuple(equal), connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, _params(where_fields, equal.values()))
        return cursor.fetchone() is not None


@functools.cache
def _update(model: type[models.Model], columns: tuple[str, ...], keys: tuple[str, ...], keep: tuple[str, ...],
            vendor: str) -> tuple[str, list[models.Field], list[models.Field]]:
    fields = [model._meta.get_field(name) for name in columns]
    where_fields, where = _where(model, keys)
    quote = connection.ops.quote_name
    assignments = ", ".join(
        f"{quote(field.column)} = COALESCE({quote(field.column)}, %s)" if field.name in keep
        else f"{quote(field.column)} = %s" for field in fields)
    return f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {where}", fields, where_fields


def rows_update(model: type[models.Model], values: dict[str, object], keep: tuple[str, ...] = (),
                **where: object) -> int:
    """`model.objects.filter(**where).update(**values)` with plain values; a field named in `keep` is set only where
    it is NULL (`Coalesce(field, value)`). The number of rows changed."""
    sql, fields, where_fields = _update(model, tuple(values), tuple(where), keep, connection.vendor)
    params = [field.get_db_prep_save(value, connection) for field, value in zip(fields, values.values(), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params + _params(where_fields, where.values()))
        return cursor.rowcount


def the_row(queryset: QuerySet[M]) -> M | None:
    """The one row a lookup by a unique key finds, or None. Unlike `first()`, without an ORDER BY (the model's
    ordering, or the pk's): one row needs none, and building it was a tenth of the API's CPU per request."""
    return next(iter(queryset.order_by()[:1]), None)
