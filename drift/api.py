"""Request plumbing the apps' REST views share: the JSON-object body, serializer validation, query flags and the
strict serializer fields.

One place, public names: the definition, secrets, trials, triggers, runtime, task and operations APIs all parse
requests the same way (400 naming the field path, never a 500).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
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


class StrictSerializer(serializers.Serializer):
    """Rejects unknown fields (a misspelt `worklowId` must not silently start a random run)."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class JSONObjectField(serializers.JSONField):
    """A JSON object (dict); documented as one."""

    default_error_messages = {"not_object": "Must be a JSON object."}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        if not isinstance(value, dict):
            self.fail("not_object")
        return value


class StringField(serializers.CharField):
    """A JSON string only (DRF's CharField would turn 5 into "5")."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)
