"""`$.`-paths and dotted paths into the run context. Pure: the workflow imports it, and so do node types."""

from __future__ import annotations

from typing import Any

_MISSING = object()


def lookup(context: Any, dotted: str) -> Any:
    """Follow `a.b.0.c` (or `$.a.b.0.c`) through dicts and lists; None when any step is missing."""
    return find(context, dotted, None)


def find(context: Any, dotted: str, missing: Any) -> Any:
    """`lookup`, answering `missing` when a step is missing (tells a missing value from a JSON null)."""
    current = context
    for part in (p for p in dotted.strip().removeprefix("$.").split(".") if p):
        if isinstance(current, dict):
            current = current.get(part, _MISSING)
        elif isinstance(current, list) and part.lstrip("-").isdigit() and -len(current) <= int(part) < len(current):
            current = current[int(part)]
        else:
            return missing
        if current is _MISSING:
            return missing
    return current


def resolve_parameters(mapping: dict[str, Any] | None, context: dict[str, Any]) -> dict[str, Any]:
    """Map each expected parameter to its `$.`-path value in `_global`, or keep the literal."""
    resolved: dict[str, Any] = {}
    for name, source in (mapping or {}).items():
        if isinstance(source, str) and source.startswith("$."):
            resolved[name] = lookup(context, source[2:])
        elif source == "$":
            resolved[name] = context
        else:
            resolved[name] = source
    return resolved
