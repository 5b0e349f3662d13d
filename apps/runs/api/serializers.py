"""Request validation and response documentation of the runtime API (/v3)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.clients.webhook_urls import webhook_url_problem
from apps.runs.models import SERVER_ID_PREFIXES, RunMode, RunStatus
from drift.api import JSONObjectField, StrictSerializer

WORKFLOW_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,199}$"


@extend_schema_field({"oneOf": [{"type": "array", "items": {"type": "object"}}, {"type": "object"}],
                     "description": "The original Drift's set of order details (an array of objects), or an object."})
class OrderDetailsField(serializers.JSONField):
    """Spec §7: an array of objects (the original's `Set<OrderDetail>`) or one object."""

    default_error_messages = {"invalid_shape": "Must be a JSON array of objects or a JSON object."}

    def to_internal_value(self, data: Any) -> Any:
        value = super().to_internal_value(data)
        if isinstance(value, dict) or (isinstance(value, list) and all(isinstance(item, dict) for item in value)):
            return value
        self.fail("invalid_shape")


class IssueDetailSerializer(serializers.Serializer):
    issueId = serializers.CharField(max_length=200, required=False)  # noqa: N815 - wire names
    issueName = serializers.CharField(max_length=500, required=False, allow_blank=True)  # noqa: N815


class StartParamsSerializer(serializers.Serializer):
    """Only the reserved keys of `params` are checked; any other key is the run's own input."""

    workflowId = serializers.CharField(max_length=200, required=False)  # noqa: N815
    # ASCII digits only: "²".isdigit() is True but int("²") fails.
    version = serializers.RegexField(r"(?ai)^\s*(\d{1,9}|LATEST|ACTIVE|SNAPSHOT)\s*$", required=False,
                                     error_messages={"invalid": "Must be LATEST, ACTIVE or a version number."})

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        version = data.get("version")
        if isinstance(version, int) and not isinstance(version, bool):
            data = {**data, "version": str(version)}
        checked = super().to_internal_value(data)
        return {**data, **checked}


class StartSerializer(StrictSerializer):
    issueDetail = IssueDetailSerializer(required=False)  # noqa: N815
    customer = JSONObjectField(required=False)
    orderDetails = OrderDetailsField(required=False)  # noqa: N815
    # Accepted as the original documents them and kept in the run's context (`_global.queueDetail`,
    # `_global.parentWorkflowId`); a client's parentWorkflowId does not link runs (only CHILD nodes do).
    queueDetail = JSONObjectField(required=False)  # noqa: N815
    parentWorkflowId = serializers.CharField(max_length=200, required=False, allow_blank=True)  # noqa: N815
    params = StartParamsSerializer(required=False)
    config = JSONObjectField(required=False)
    threadContext = JSONObjectField(required=False)  # noqa: N815
    workflowId = serializers.RegexField(WORKFLOW_ID_PATTERN, required=False)  # noqa: N815
    incidentId = serializers.CharField(max_length=200, required=False, allow_blank=True)  # noqa: N815
    mode = serializers.ChoiceField(choices=RunMode.choices, default=RunMode.SYNC)
    callbackUrl = serializers.URLField(max_length=500, required=False, allow_blank=True)  # noqa: N815

    def validate_workflowId(self, value: str) -> str:  # noqa: N802 - DRF names it after the field
        if value.startswith(SERVER_ID_PREFIXES):
            reserved = ', '.join(SERVER_ID_PREFIXES)
            raise serializers.ValidationError(f"Must not start with {reserved} (ids the server makes).")
        return value

    def validate_callbackUrl(self, value: str) -> str:  # noqa: N802 - DRF names it after the field
        if value and not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("Must be an http(s) URL.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("mode") == RunMode.ASYNC and attrs.get("callbackUrl"):  # only ASYNC runs call it back
            problem = webhook_url_problem(attrs["callbackUrl"])
            if problem:
                raise serializers.ValidationError({"callbackUrl": [problem]})
        if not (attrs.get("params") or {}).get("workflowId") and not (attrs.get("issueDetail") or {}).get("issueId"):
            raise serializers.ValidationError(
                {"issueDetail": {"issueId": ["Name an issue (issueDetail.issueId) or a workflow (params.workflowId)."]}}
            )
        return attrs


class ViewResponseSerializer(serializers.Serializer):
    selectedOptions = JSONObjectField(required=False, default=dict)  # noqa: N815


class ResumeSerializer(StrictSerializer):
    viewResponse = ViewResponseSerializer()  # noqa: N815
    params = JSONObjectField(required=False)


class TerminateSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True)


class DisconnectedSerializer(StrictSerializer):
    node = serializers.CharField(max_length=200)
    parameters = JSONObjectField(required=False)


# --- responses (documentation; views answer with plain dicts of these shapes)


class WorkflowResponseSerializer(serializers.Serializer):
    incidentId = serializers.CharField(allow_null=True, help_text="null when the start sent none.")  # noqa: N815
    workflowId = serializers.CharField()  # noqa: N815
    workflowStatus = serializers.ChoiceField(choices=RunStatus.choices)  # noqa: N815
    disposition = serializers.CharField(allow_null=True)
    errorMessage = serializers.CharField(allow_null=True)  # noqa: N815
    view = serializers.JSONField(allow_null=True, help_text="{layoutId, inputOptions: [Option]}")
    currentNode = serializers.CharField(allow_null=True)  # noqa: N815
    workflowDefinitionId = serializers.CharField(allow_null=True)  # noqa: N815
    workflowVersion = serializers.IntegerField(allow_null=True)  # noqa: N815


class RunDetailSerializer(WorkflowResponseSerializer):
    mode = serializers.ChoiceField(choices=RunMode.choices)
    issueId = serializers.CharField(allow_null=True)  # noqa: N815
    parentWorkflowId = serializers.CharField(allow_null=True)  # noqa: N815
    createdAt = serializers.DateTimeField()  # noqa: N815
    updatedAt = serializers.DateTimeField()  # noqa: N815
    finishedAt = serializers.DateTimeField(allow_null=True)  # noqa: N815
    customerId = serializers.CharField(allow_null=True)  # noqa: N815
    redriveOf = serializers.CharField(allow_null=True, help_text="The run this one redrives (§10).")  # noqa: N815
    traceId = serializers.CharField(allow_null=True, help_text="The run's OpenTelemetry trace (32 lower-case hex); "  # noqa: N815
                                    "null when tracing was off (§14).")
    redrivenBy = serializers.ListField(child=serializers.CharField(), required=False,  # noqa: N815
                                       help_text="Runs that redrive this one (GET /v3/workflow/{id} only).")
    _global = serializers.JSONField(required=False, help_text="The run context; only with ?includeContext=true.")


class DisconnectedResultSerializer(serializers.Serializer):
    workflowId = serializers.CharField()  # noqa: N815
    node = serializers.CharField()
    status = serializers.ChoiceField(choices=["SUCCESS", "FAILURE"])
    response = serializers.JSONField(allow_null=True)


class EventResultSerializer(serializers.Serializer):
    workflowId = serializers.CharField()  # noqa: N815
    event = serializers.CharField()
    delivered = serializers.BooleanField()


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
    message = serializers.CharField()
    details = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))


class SearchPageSerializer(serializers.Serializer):
    items = RunDetailSerializer(many=True)
    nextCursor = serializers.CharField(allow_null=True, help_text="Pass as `cursor` for the next page.")  # noqa: N815
