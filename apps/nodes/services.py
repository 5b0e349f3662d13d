"""Writes of host limits (platform operators: the admin and `/v3/host-limits/`). Other worker processes see an
edit within DRIFT_HOST_LIMITS_REFRESH_SECONDS (their cached table expires); this process at once."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from apps.nodes import host_limits
from apps.nodes.host_limit_rules import limit_problems, normalize_host
from apps.nodes.models import HostLimit
from core.problems import Problem
from drift.errors import Conflict, InvalidInput


def host_limit_put(*, body: dict[str, Any], actor: str, host: str | None = None,
                   create_only: bool = False) -> tuple[HostLimit, bool]:
    """Create or replace the limit of `host` (the URL's; else the body's) from an API body; (row, created).
    400 with paths on bad input; 409 when `create_only` and the host has a limit already."""
    problems = limit_problems(body, host_required=host is None)
    key = _host_key(host if host is not None else body.get("host"), problems)
    if key and host is not None and "host" in body and _same_host(body["host"], key) is False:
        problems.append(Problem("$.host", "must match the URL's host"))
    if problems:
        raise InvalidInput("Invalid host limit.", problems)
    fields = {"requests_per_second": body.get("requestsPerSecond"), "burst": body.get("burst", 1),
              "max_in_flight": body.get("maxInFlight"), "updated_by": actor[:150]}
    try:
        with transaction.atomic():
            if create_only:
                row, created = HostLimit.objects.create(host=key, **fields), True
            else:
                row, created = HostLimit.objects.update_or_create(host=key, defaults=fields)
    except IntegrityError:
        raise Conflict(f"'{key}' has a host limit already; PUT /v3/host-limits/{key} replaces it.") from None
    host_limits.forget_rows()
    return row, created


def host_limit_save(row: HostLimit, *, actor: str) -> None:
    """Save a row the admin's form validated (model.clean)."""
    row.updated_by = actor[:150]
    row.save()
    host_limits.forget_rows()


def host_limit_delete(row: HostLimit) -> None:
    row.delete()
    host_limits.forget_rows()


def _host_key(raw: Any, problems: list[Problem]) -> str | None:
    try:
        return normalize_host(raw)
    except ValueError as exc:
        if not any(problem.path == "$.host" for problem in problems):
            problems.append(Problem("$.host", str(exc)))
        return None


def _same_host(raw: Any, key: str) -> bool | None:
    try:
        return normalize_host(raw) == key
    except ValueError:
        return None  # reported by limit_problems
