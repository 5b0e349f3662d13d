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


class BulkSerializer(StrictSerializer):
    """Which runs (a search filter or ids) and the operation's options."""

    filter = JSONObjectField(required=False, help_text="Search keys as in GET /v3/workflow (no cursor/limit).")
    ids = serializers.ListField(child=StringField(max_length=200), required=False, min_length=1,
                                max_length=10_000, help_text="Workflow ids, up to 10,000.")
    reason = StringField(max_length=1000, required=False, allow_blank=True, help_text="terminate only.")
    fromNode = StringField(max_length=200, required=False, help_text="redrive only.")  # noqa: N815
    contextPatch = JSONObjectField(required=False, help_text="redrive only.")  # noqa: N815
    version = RedriveVersionField(required=False, help_text="redrive only.")

    OPTIONS = {"terminate": {"reason"}, "rerun": set(), "redrive": {"fromNode", "contextPatch", "version"}}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("filter" in attrs) == ("ids" in attrs):
            raise serializers.ValidationError({"filter": ["Give either `filter` or `ids`."]})
        op = self.context["op"]
        misplaced = sorted(set(attrs) - {"filter", "ids"} - self.OPTIONS[op])
        if misplaced:
            raise serializers.ValidationError({name: [f"Not an option of {op}."] for name in misplaced})
        return attrs


class BulkJobCreatedSerializer(serializers.Serializer):
    jobId = serializers.CharField()  # noqa: N815


class BulkFailureSerializer(serializers.Serializer):
    workflowId = serializers.CharField()  # noqa: N815
    error = serializers.CharField()


class BulkProgressSerializer(serializers.Serializer):
    jobId = serializers.CharField()  # noqa: N815
    op = serializers.ChoiceField(choices=["terminate", "rerun", "redrive"])
    state = serializers.ChoiceField(choices=["PENDING", "RUNNING", "DONE"])
    total = serializers.IntegerField()
    handled = serializers.IntegerField()
    done = serializers.IntegerField()
    failed = serializers.IntegerField()
    pending = serializers.IntegerField()
    percent = serializers.FloatField()
    failures = BulkFailureSerializer(many=True, help_text="The failed runs (first 1,000).")
    createdBy = serializers.CharField()  # noqa: N815
    createdAt = serializers.DateTimeField()  # noqa: N815
    finishedAt = serializers.DateTimeField(allow_null=True)  # noqa: N815
