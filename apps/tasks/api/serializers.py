"""Shapes of the task API (documentation and output; the views answer with these)."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from apps.tasks.models import Task, TaskStatus


class TaskSerializer(serializers.ModelSerializer):
    taskId = serializers.IntegerField(source="pk", read_only=True)  # noqa: N815
    workflowId = serializers.CharField(source="workflow_id")  # noqa: N815
    workflowDefinitionId = serializers.CharField(source="definition_key")  # noqa: N815
    status = serializers.ChoiceField(choices=TaskStatus.choices)
    escalationLevel = serializers.IntegerField(source="escalation_level")  # noqa: N815
    claimedBy = serializers.CharField(source="claimed_by")  # noqa: N815
    claimedAt = serializers.DateTimeField(source="claimed_at", allow_null=True)  # noqa: N815
    waitingSince = serializers.DateTimeField(source="waiting_since")  # noqa: N815
    dueAt = serializers.DateTimeField(source="due_at", allow_null=True)  # noqa: N815
    overdue = serializers.SerializerMethodField()
    timeoutAt = serializers.DateTimeField(source="timeout_at", allow_null=True)  # noqa: N815
    view = serializers.JSONField(source="run.view", allow_null=True, help_text="The screen's View (spec §2.4).")

    class Meta:
        model = Task
        fields = ["taskId", "workflowId", "workflowDefinitionId", "node", "status", "group", "user",
                  "escalationLevel", "claimedBy", "claimedAt", "waitingSince", "dueAt", "overdue", "timeoutAt",
                  "view"]

    def get_overdue(self, task: Task) -> bool:
        return task.status == TaskStatus.OPEN and task.due_at is not None and task.due_at < timezone.now()


class TaskPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    results = TaskSerializer(many=True)
