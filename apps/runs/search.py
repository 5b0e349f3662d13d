"""Run search keys (spec §10), shared by `GET /v3/workflow`, the bulk filter and the admin search box.

`search_filter_parse` turns query-string or JSON keys into a `RunFilter` (400 with the key's path for bad
input); `param_index_values` decides which `params` fields a run is indexed by (RunParam rows).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.runs.models import RunStatus
from drift.errors import InvalidInput, Problem

PARAM_PREFIX = "param."
MAX_PARAM_NAME = 100
MAX_PARAM_VALUE = 200
MAX_INDEXED_PARAMS = 32  # per run: a start with hundreds of params indexes the first ones only
DEFAULT_LIMIT, MAX_LIMIT = 50, 200
PLAIN_KEYS = {"status": "status", "workflowDefinitionId": "definition_key", "customerId": "customer_id",
              "incidentId": "incident_id", "traceId": "trace_id"}
TIME_KEYS = {"createdFrom": "created_at__gte", "createdTo": "created_at__lt"}
PAGE_KEYS = ("cursor", "limit")


@dataclass
class RunFilter:
    """Exact-match fields of Run, a created_at range and `params` fields (name -> indexed value)."""

    fields: dict[str, Any] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    def as_keys(self) -> dict[str, str]:
        """The filter back as search keys (stored with bulk jobs; parses to the same filter)."""
        names = {v: k for k, v in {**PLAIN_KEYS, **TIME_KEYS}.items()}
        keys = {names[name]: value.isoformat() if isinstance(value, datetime) else value
                for name, value in self.fields.items()}
        return keys | {f"{PARAM_PREFIX}{name}": value for name, value in self.params.items()}


def indexed_value(value: Any) -> str | None:
    """How a params value is indexed and matched: strings as they are, numbers and booleans as JSON."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        text = json.dumps(value)
    else:
        return None  # objects, arrays, null, NaN: not searchable
    return text if len(text) <= MAX_PARAM_VALUE else None


def param_index_values(params: Any) -> list[tuple[str, str]]:
    if not isinstance(params, dict):
        return []
    pairs = ((name, indexed_value(value)) for name, value in params.items()
             if isinstance(name, str) and 0 < len(name) <= MAX_PARAM_NAME)
    return [(name, text) for name, text in pairs if text is not None][:MAX_INDEXED_PARAMS]


def _bad(path: str, problem: str) -> InvalidInput:
    return InvalidInput(f"Invalid search key '{path.rsplit('.', 1)[-1]}': {problem}.", [Problem(path, problem)])


def _text(raw: Any, path: str, max_length: int = 200) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise _bad(path, "must be a string")
    text = str(raw)
    if not text or len(text) > max_length:
        raise _bad(path, f"must be 1 to {max_length} characters")
    if any("\ud800" <= char <= "\udfff" or char == "\x00" for char in text):
        raise _bad(path, "must be valid text")
    return text


def _time(raw: Any, path: str) -> datetime:
    text = _text(raw, path, 64)
    try:
        moment = parse_datetime(text)
    except ValueError:
        moment = None
    if moment is None:
        raise _bad(path, "must be an ISO-8601 date-time")
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, timezone.utc)


def search_filter_parse(keys: Mapping[str, Any], *, base: str = "$.query", allow_page: bool = True) -> RunFilter:
    """Parse search keys; an unknown key is 400 (a misspelt `customerID` must not match every run)."""
    run_filter = RunFilter()
    for name, raw in keys.items():
        path = f"{base}.{name}"
        if name in PLAIN_KEYS:
            value = _text(raw, path)
            if name == "status" and value not in RunStatus.values:
                raise _bad(path, f"must be one of {', '.join(RunStatus.values)}")
            run_filter.fields[PLAIN_KEYS[name]] = value
        elif name in TIME_KEYS:
            run_filter.fields[TIME_KEYS[name]] = _time(raw, path)
        elif isinstance(name, str) and name.startswith(PARAM_PREFIX):
            param = _text(name[len(PARAM_PREFIX):], path, MAX_PARAM_NAME)
            value = raw if isinstance(raw, str) else indexed_value(raw)
            run_filter.params[param] = _text(value, path, MAX_PARAM_VALUE)
        elif not (allow_page and name in PAGE_KEYS):
            raise _bad(path, "is not a search key")
    return run_filter


def cursor_encode(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"run:{last_id}".encode()).decode().rstrip("=")


def cursor_decode(raw: str | None, path: str = "$.query.cursor") -> int | None:
    if raw is None or raw == "":
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        prefix, _, number = text.partition(":")
        if prefix == "run" and number.isascii() and number.isdigit() and len(number) < 19:
            return int(number)
    except (binascii.Error, ValueError, UnicodeError):
        pass
    raise _bad(path, "is not a cursor this API returned")


def page_limit(raw: str | None, path: str = "$.query.limit") -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_LIMIT:
        raise _bad(path, f"must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


def search_terms_split(term: str) -> tuple[dict[str, str], list[str]]:
    """The admin search box: `key=value` words are search keys, other words go to the plain search."""
    keys: dict[str, str] = {}
    words: list[str] = []
    for word in term.split():
        name, sep, value = word.partition("=")
        if sep and (name in PLAIN_KEYS or name in TIME_KEYS or name.startswith(PARAM_PREFIX)):
            keys[name] = value
        else:
            words.append(word)
    return keys, words

