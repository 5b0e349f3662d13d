"""Request validation and response documentation of the run operations API (spec §10)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.operations.models import OverlapPolicy
from apps.runs.api.serializers import StartSerializer
from drift.api import JSONObjectField, StrictSerializer, StringField


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


class RedriveSerializer(StrictSerializer):
    fromNode = StringField(max_length=200, required=False,  # noqa: N815
                                     help_text="Default: the node that failed (or where it was terminated).")
    contextPatch = JSONObjectField(required=False, help_text="Deep-merged into the old run's `_global`.")  # noqa: N815
    version = RedriveVersionField(required=False, help_text='"SAME" (default), "ACTIVE" or a number.')


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


SCHEDULE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
# Standard cron (5 fields, 6-7 with seconds/years) or Temporal's @-shorthands (@daily, @every 10m ...).
CRON_PATTERN = r"^(@[a-z]+( [0-9a-z]+)?|[0-9A-Za-z*/,\-?#]+( [0-9A-Za-z*/,\-?#]+){4,6})$"


class ScheduleStartSerializer(StartSerializer):
    """The start body each run gets: as POST /v3/workflow/start, minus what the schedule decides itself."""

    def get_fields(self) -> dict[str, Any]:
        fields = super().get_fields()
        for name in ("workflowId", "mode"):
            fields.pop(name)
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return attrs  # the workflow is named by the schedule (workflowId | issueId)


class ScheduleSerializer(StrictSerializer):
    id = serializers.RegexField(SCHEDULE_ID_PATTERN, required=False, help_text="Taken from the URL on PUT.")
    workflowId = StringField(max_length=200, required=False)  # noqa: N815
    issueId = StringField(max_length=200, required=False)  # noqa: N815
    version = serializers.RegexField(r"(?a)^(\d{1,9}|LATEST|ACTIVE)$", required=False)
    cron = serializers.RegexField(CRON_PATTERN, max_length=200, required=False)
    intervalSeconds = serializers.IntegerField(min_value=1, max_value=366 * 86400, required=False)  # noqa: N815
    start = ScheduleStartSerializer(required=False)
    overlap = serializers.ChoiceField(choices=OverlapPolicy.choices, default=OverlapPolicy.SKIP)
    paused = serializers.BooleanField(default=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("workflowId" in attrs) == ("issueId" in attrs):
            raise serializers.ValidationError({"workflowId": ["Give either `workflowId` or `issueId`."]})
        if ("cron" in attrs) == ("intervalSeconds" in attrs):
            raise serializers.ValidationError({"cron": ["Give either `cron` or `intervalSeconds`."]})
        return attrs

    @staticmethod
    def model_fields(data: dict[str, Any]) -> dict[str, Any]:
        return {"workflow_key": data.get("workflowId", ""), "issue_id": data.get("issueId", ""),
                "version": data.get("version", ""), "cron": data.get("cron", ""),
                "interval_seconds": data.get("intervalSeconds"), "start": data.get("start") or {},
                "overlap": data["overlap"], "paused": data["paused"]}


class ScheduleViewSerializer(serializers.Serializer):
    id = serializers.CharField()
    workflowId = serializers.CharField(allow_null=True)  # noqa: N815
    issueId = serializers.CharField(allow_null=True)  # noqa: N815
    version = serializers.CharField(allow_null=True)
    cron = serializers.CharField(allow_null=True)
    intervalSeconds = serializers.IntegerField(allow_null=True)  # noqa: N815
    start = serializers.JSONField()
    overlap = serializers.ChoiceField(choices=OverlapPolicy.choices)
    paused = serializers.BooleanField()
    createdBy = serializers.CharField()  # noqa: N815
    createdAt = serializers.DateTimeField()  # noqa: N815
    updatedAt = serializers.DateTimeField()  # noqa: N815
    syncedAt = serializers.DateTimeField(allow_null=True, help_text="When Temporal last matched it.")  # noqa: N815
    syncError = serializers.CharField(allow_null=True, help_text="Why the last sync failed.")  # noqa: N815


class BackfillSerializer(StrictSerializer):
    startAt = serializers.DateTimeField()  # noqa: N815
    endAt = serializers.DateTimeField()  # noqa: N815

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["endAt"] <= attrs["startAt"]:
            raise serializers.ValidationError({"endAt": ["Must be after startAt."]})
        if attrs["endAt"] - attrs["startAt"] > timedelta(days=366):
            raise serializers.ValidationError({"endAt": ["At most a year after startAt."]})
        return attrs
