"""Request plumbing the apps' REST views share: the JSON-object body, serializer validation, query flags and the
strict serializer fields.

One place, public names: the definition, secrets, trials, triggers, runtime, task and operations APIs all parse
requests the same way (400 naming the field path, never a 500).
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.utils.serializer_helpers import BindingDict

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


_bound_fields = threading.local()


class StrictSerializer(serializers.Serializer):
    """Rejects unknown fields (a misspelt `worklowId` must not silently start a random run)."""

    @cached_property
    def fields(self) -> BindingDict:
        """DRF deep-copies every declared field for each serializer it makes: a ninth of the API's CPU per start
        (bench/api.py under py-spy). A top-level serializer takes the fields its class bound before on this
        thread instead (a request thread validates one body at a time; the fields keep no state of a validation),
        pointed at itself, so `root` and `context` are this request's. Nested serializers bind as DRF does."""
        if self.parent is not None:
            return super().fields
        by_class = _bound_fields.__dict__.setdefault("by_class", {})
        fields = by_class.get(type(self))
        if fields is None:
            fields = by_class[type(self)] = super().fields
        for field in fields.values():
            field.parent = self
        return fields

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
