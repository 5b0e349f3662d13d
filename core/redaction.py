"""Value-based redaction: sensitive values and resolved secrets replaced by `***` wherever they appear.

Pure (the workflow imports `redact` and `sensitive_values`, node types `redact`), except the log hook, which
apps.secrets installs once (its AppConfig.ready): inside a `redacting(...)` block every log record of the thread
is scrubbed of those values, whatever logger emits it (urllib3 logs request lines, the Temporal SDK logs
activity failures).
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from core.paths import lookup

MASK = "***"
# Shorter values ("1", "no") would mask half of every document; they are not worth protecting this way.
MIN_LENGTH = 4

_active: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("drift_redacted", default=None)


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    elif isinstance(value, str | int | float) and not isinstance(value, bool):
        yield str(value)


def sensitive_values(context: dict[str, Any], paths: Iterable[str] | None) -> tuple[str, ...]:
    """The values at `paths` (`$.customer.phone`; a subtree counts leaf by leaf), longest first."""
    found = {leaf for path in paths or () for leaf in _leaves(lookup(context, path)) if len(leaf) >= MIN_LENGTH}
    return tuple(sorted(found, key=len, reverse=True))


def contains(text: str, values: Iterable[str]) -> bool:
    return any(value in text for value in values)


def redact(value: Any, values: Iterable[str]) -> Any:
    """`value` with every occurrence of `values` masked (strings, and numbers equal to one), recursively."""
    values = tuple(values)
    if not values:
        return value
    if isinstance(value, str):
        for secret in values:
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {key: redact(item, values) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item, values) for item in value]
    if isinstance(value, int | float) and not isinstance(value, bool) and str(value) in values:
        return MASK
    return value


# --------------------------------------------------------------------------- log records


@contextlib.contextmanager
def redacting(values: Iterable[str]) -> Iterator[None]:
    """Scrub `values` from log records emitted in this block (this thread / task)."""
    token = _active.set([*(_active.get() or ()), *(v for v in values if len(v) >= MIN_LENGTH)])
    try:
        yield
    finally:
        _active.reset(token)


def add_redacted(values: Iterable[str]) -> None:
    """Extend the current `redacting` block (secrets resolved in the middle of it); no-op outside one."""
    current = _active.get()
    if current is not None:
        current.extend(v for v in values if len(v) >= MIN_LENGTH)


def install_log_redaction() -> None:
    """Wrap the log record factory once: records created while values are active carry them masked."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "drift_redacting", False):
        return

    def scrubbing_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        values = sorted(_active.get() or (), key=len, reverse=True)
        if values:
            record.msg, record.args = redact(record.getMessage(), values), ()
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info), values)
                record.exc_info = None
        return record

    scrubbing_factory.drift_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(scrubbing_factory)
