"""Request validation and response documentation of the run operations API (spec §10)."""

from __future__ import annotations

from rest_framework import serializers

from apps.runs.api.serializers import RunDetailSerializer


class RunSummarySerializer(RunDetailSerializer):
    customerId = serializers.CharField(allow_null=True)  # noqa: N815
    redriveOf = serializers.CharField(allow_null=True)  # noqa: N815


class SearchPageSerializer(serializers.Serializer):
    items = RunSummarySerializer(many=True)
    nextCursor = serializers.CharField(allow_null=True, help_text="Pass as `cursor` for the next page.")  # noqa: N815
