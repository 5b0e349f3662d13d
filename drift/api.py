"""Request plumbing the apps' REST views share: the JSON-object body, serializer validation and query flags.

One place, public names: the definition, secrets, trials, triggers, runtime, task and operations APIs all parse
requests the same way (400 naming the field path, never a 500).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request

from core.problems import Problem
from drift.errors import InvalidInput


def object_body(request: Request) -> dict:
    """The request's body, which must be a JSON object."""
    return require_object(request.data)


def require_object(data: Any) -> dict:
    if not isinstance(data, dict):
        raise InvalidInput("The body must be a JSON object.", [Problem("$", "must be a JSON object")])
    return data


def validated(serializer_class: type, data: Any, **context: Any) -> dict[str, Any]:
    """`data` checked by the serializer (400 with each field's path); `context` is the serializer's."""
    serializer = serializer_class(data=data, context=context)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def validated_object(serializer_class: type, data: Any, **context: Any) -> dict[str, Any]:
    """As `validated`, for a body that must be a JSON object (anything else is refused before the serializer)."""
    return validated(serializer_class, require_object(data), **context)


def query_bool(request: Request, name: str) -> bool:
    """A true/false query flag (absent: false); anything else is 400."""
    raw = request.query_params.get(name, "false").strip().lower()
    if raw not in {"true", "false", "1", "0", ""}:
        raise InvalidInput(f"Invalid '{name}'.", [Problem(f"$.query.{name}", "must be true or false")])
    return raw in {"true", "1"}
