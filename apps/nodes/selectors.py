"""Reads of host limits: the operators' list and rows, and the table the worker's HTTP calls are limited by."""

from __future__ import annotations

from typing import Any

from apps.nodes.host_limit_rules import normalize_host
from apps.nodes.models import HostLimit
from drift.errors import NotFound


def host_limit_list() -> list[HostLimit]:
    return list(HostLimit.objects.order_by("host"))


def host_limit_get(*, host: str) -> HostLimit:
    """The row of `host` (any spelling that normalises to it); 404 otherwise."""
    try:
        key = normalize_host(host)
    except ValueError:
        key = None
    row = HostLimit.objects.filter(host=key).first() if key else None
    if row is None:
        raise NotFound(f"No host limit for '{str(host)[:100]}'.")
    return row


def host_limit_table() -> dict[str, dict[str, Any]]:
    """Every row as the worker applies it: {host: {"rate", "burst", "inFlight"}} (DRIFT_HOST_LIMITS' shape)."""
    rows = HostLimit.objects.values_list("host", "requests_per_second", "burst", "max_in_flight")
    return {host: {"rate": rate, "burst": burst, "inFlight": in_flight} for host, rate, burst, in_flight in rows}


def host_limit_view(row: HostLimit) -> dict[str, Any]:
    return {"host": row.host, "requestsPerSecond": row.requests_per_second, "burst": row.burst,
            "maxInFlight": row.max_in_flight, "updatedAt": row.updated_at, "updatedBy": row.updated_by}
