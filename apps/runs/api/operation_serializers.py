"""Request validation and response documentation of the run operations API (spec §10)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.runs.api.serializers import JSONObjectField, RunDetailSerializer, StrictSerializer


@extend_schema_field({"oneOf": [{"type": "string", "enum": ["SAME", "ACTIVE"]},
                                {"type": "integer", "minimum": 1, "maximum": 999_999_999}]})
class RedriveVersionField(serializers.Field):
    """"SAME" (the run's pinned version), "ACTIVE", or a version number."""

    default_error_messages = {"invalid": 'Must be "SAME", "ACTIVE" or a version number.'}

    def to_internal_value(self, data: Any) -> str | int:
        if data in ("SAME", "ACTIVE"):
            return data
        if isinstance(data, int) and not isinstance(data, bool) and 1 <= data <= 999_999_999:
            return data
        if isinstance(data, str) and data.isascii() and data.isdigit() and 1 <= len(data) <= 9 and int(data) >= 1:
            return int(data)
        self.fail("invalid")

    def to_representation(self, value: Any) -> Any:
        return value


class StringField(serializers.CharField):
    """A JSON string only (DRF's CharField would turn 5 into "5")."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class RedriveSerializer(StrictSerializer):
    fromNode = StringField(max_length=200, required=False,  # noqa: N815
                                     help_text="Default: the node that failed (or where it was terminated).")
    contextPatch = JSONObjectField(required=False, help_text="Deep-merged into the old run's `_global`.")  # noqa: N815
    version = RedriveVersionField(required=False, help_text='"SAME" (default), "ACTIVE" or a number.')


class SearchPageSerializer(serializers.Serializer):
    items = RunDetailSerializer(many=True)
    nextCursor = serializers.CharField(allow_null=True, help_text="Pass as `cursor` for the next page.")  # noqa: N815
