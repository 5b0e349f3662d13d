"""Small validation helpers shared by the node types: each returns a list of Problems."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.problems import Problem


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def required(node: dict, key: str, path: str) -> list[Problem]:
    return [] if node.get(key) is not None else [Problem(f"{path}.{key}", "is required")]


def string(node: dict, key: str, path: str, *, required: bool = False) -> list[Problem]:
    value = node.get(key)
    if value is None:
        return [Problem(f"{path}.{key}", "is required")] if required else []
    if not isinstance(value, str) or (required and not value.strip()):
        return [Problem(f"{path}.{key}", "must be a non-empty string" if required else "must be a string")]
    return []


def one_of(node: dict, key: str, path: str, allowed: Iterable[str], *, required: bool = False) -> list[Problem]:
    value = node.get(key)
    if value is None:
        return [Problem(f"{path}.{key}", "is required")] if required else []
    allowed = tuple(allowed)
    if value not in allowed:
        return [Problem(f"{path}.{key}", f"must be one of {', '.join(allowed)} (got {value!r})")]
    return []


# Durations and coefficients become Temporal timers and retry policies: past this, timedelta overflows and the
# run's workflow task could never complete.
NUMBER_MAXIMUM = 10 * 365 * 24 * 3600  # ten years, in seconds


def number(node: dict, key: str, path: str, *, required: bool = False, minimum: float | None = 0,
           positive: bool = False, maximum: float = NUMBER_MAXIMUM) -> list[Problem]:
    value = node.get(key)
    if value is None:
        return [Problem(f"{path}.{key}", "is required")] if required else []
    if not is_number(value):
        return [Problem(f"{path}.{key}", "must be a number")]
    if positive and value <= 0:
        return [Problem(f"{path}.{key}", "must be greater than 0")]
    if minimum is not None and value < minimum:
        return [Problem(f"{path}.{key}", f"must be at least {minimum:g}")]
    if not value <= maximum:  # also NaN
        return [Problem(f"{path}.{key}", f"must be at most {maximum:g}")]
    return []


def obj(node: dict, key: str, path: str, *, required: bool = False) -> list[Problem]:
    value = node.get(key)
    if value is None:
        return [Problem(f"{path}.{key}", "is required")] if required else []
    return [] if isinstance(value, dict) else [Problem(f"{path}.{key}", "must be an object")]


def array(node: dict, key: str, path: str, *, required: bool = False) -> list[Problem]:
    value = node.get(key)
    if value is None:
        return [Problem(f"{path}.{key}", "is required")] if required else []
    return [] if isinstance(value, list) else [Problem(f"{path}.{key}", "must be a list")]
