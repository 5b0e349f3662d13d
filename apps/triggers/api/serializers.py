"""Request validation and response documentation of the triggers API (spec §13)."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers

from apps.triggers.models import EventStatus, TriggerAction
from drift.api import JSONObjectField, StrictSerializer, StringField

TRIGGER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"


class WorkflowRefSerializer(StrictSerializer):
    workflowDefinitionId = StringField(max_length=200, required=False)  # noqa: N815
    issueId = StringField(max_length=200, required=False)  # noqa: N815
    version = serializers.RegexField(r"^(\d{1,9}|LATEST|ACTIVE|SNAPSHOT)$", required=False,
                                     error_messages={"invalid": "Must be LATEST, ACTIVE, SNAPSHOT or a number."})

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, dict) and isinstance(data.get("version"), int) and not isinstance(data["version"], bool):
            data = {**data, "version": str(data["version"])}
        return super().to_internal_value(data)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("workflowDefinitionId" in attrs) == ("issueId" in attrs):
            raise serializers.ValidationError({"workflowDefinitionId": ["Give either workflowDefinitionId or "
                                                                        "issueId."]})
        return attrs


class TriggerSerializer(StrictSerializer):
    id = StringField(required=False, validators=[RegexValidator(TRIGGER_ID_PATTERN, "1-100 letters, digits, '_', "
                                                                                   "'.' or '-'.")])
    action = serializers.ChoiceField(choices=TriggerAction.choices)
    workflow = WorkflowRefSerializer(required=False, allow_null=True)
    mapping = JSONObjectField(required=False, help_text="Start-body field -> `$.`-path or literal (START).")
    correlation = JSONObjectField(required=False, allow_null=True,
                                  help_text='Search key -> `$.`-path (EVENT), e.g. {"param.orderRef": "$.body.order"}.')
    eventName = StringField(max_length=200, required=False, allow_null=True)  # noqa: N815
    dedupeKey = StringField(max_length=500, required=False, allow_null=True,  # noqa: N815
                            help_text="`$.`-path of the event's id; the same value within 24 h counts once.")
    auth = JSONObjectField(help_text='{"kind": "HMAC_SHA256", "header", "secret", "prefix"?, "timestampHeader"?, '
                                     '"toleranceSeconds"?} or {"kind": "TOKEN", "secret"}')
    enabled = serializers.BooleanField(required=False, default=True)

    @staticmethod
    def model_fields(data: dict[str, Any]) -> dict[str, Any]:
        workflow = data.get("workflow") or {}
        return {
            "action": data["action"], "workflow_key": workflow.get("workflowDefinitionId", ""),
            "issue_id": workflow.get("issueId", ""), "version": workflow.get("version", ""),
            "mapping": data.get("mapping") or {}, "correlation": data.get("correlation") or {},
            "event_name": data.get("eventName") or "", "dedupe_key": data.get("dedupeKey") or "",
            "auth": data["auth"], "enabled": data.get("enabled", True),
        }


class TriggerViewSerializer(serializers.Serializer):
    id = serializers.CharField()
    action = serializers.ChoiceField(choices=TriggerAction.choices)
    workflow = serializers.JSONField(allow_null=True)
    mapping = serializers.JSONField()
    correlation = serializers.JSONField(allow_null=True)
    eventName = serializers.CharField(allow_null=True)  # noqa: N815
    dedupeKey = serializers.CharField(allow_null=True)  # noqa: N815
    auth = serializers.JSONField()
    enabled = serializers.BooleanField()
    hookPath = serializers.CharField(help_text="Where senders POST their events.")  # noqa: N815
    createdBy = serializers.CharField()  # noqa: N815
    createdAt = serializers.DateTimeField()  # noqa: N815
    updatedAt = serializers.DateTimeField()  # noqa: N815


class EventViewSerializer(serializers.Serializer):
    eventId = serializers.CharField()  # noqa: N815
    trigger = serializers.CharField()
    status = serializers.ChoiceField(choices=EventStatus.choices)
    workflowId = serializers.CharField(allow_null=True)  # noqa: N815
    duplicateOf = serializers.CharField(allow_null=True)  # noqa: N815
    error = serializers.CharField(allow_null=True)
    attempts = serializers.IntegerField()
    receivedAt = serializers.DateTimeField()  # noqa: N815
    doneAt = serializers.DateTimeField(allow_null=True)  # noqa: N815


class HookReplySerializer(serializers.Serializer):
    eventId = serializers.CharField(help_text="The stored event (a duplicate: the first one's).")  # noqa: N815
    status = serializers.ChoiceField(choices=EventStatus.choices)
    workflowId = serializers.CharField(required=False, help_text="START: the run's id; EVENT: the run fed.")  # noqa: N815
    matched = serializers.BooleanField(required=False, help_text="EVENT: whether an open run matched.")
    duplicate = serializers.BooleanField(required=False)
    error = serializers.CharField(required=False, help_text="FAILED: why (e.g. the mapping path missing).")
