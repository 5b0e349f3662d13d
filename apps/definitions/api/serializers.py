"""Input validation (routes, enum entries, query parameters) and output shapes for the schema."""

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.definitions.dsl import KEY_PATTERN
from apps.definitions.versions import version_problem


@extend_schema_field(OpenApiTypes.STR)
class VersionField(serializers.Field):
    """ACTIVE, LATEST or a published number, given as a string or an integer."""

    default_error_messages = {"invalid": "must be ACTIVE, LATEST or a published version number"}

    def to_internal_value(self, data: Any) -> str:
        if version_problem(data, path="$", allowed=("ACTIVE", "LATEST")) or data in (None, ""):
            self.fail("invalid")
        return str(data).strip().upper()

    def to_representation(self, value: Any) -> str:
        return str(value)


def key_field(**kwargs: Any) -> serializers.RegexField:
    return serializers.RegexField(KEY_PATTERN, max_length=200, **kwargs)


class RouteVariantSerializer(serializers.Serializer):
    workflowId = key_field()  # noqa: N815 - the API's camelCase
    version = VersionField(default="ACTIVE")
    weight = serializers.IntegerField(min_value=0, max_value=1_000_000, default=1)


class RouteInputSerializer(serializers.Serializer):
    workflowId = key_field()  # noqa: N815
    version = VersionField(default="ACTIVE")
    variants = RouteVariantSerializer(many=True, default=list)


class RouteSerializer(RouteInputSerializer):
    issueId = serializers.CharField()  # noqa: N815


class EnumValueSerializer(serializers.Serializer):
    value = serializers.JSONField(help_text="Any JSON value.")


class EnumEntrySerializer(EnumValueSerializer):
    key = serializers.CharField()
    updatedAt = serializers.DateTimeField(source="updated_at")  # noqa: N815


class ProblemSerializer(serializers.Serializer):
    path = serializers.CharField()
    problem = serializers.CharField()


class SavedSerializer(serializers.Serializer):
    id = serializers.CharField()
    version = serializers.CharField()
    definition = serializers.JSONField()
    warnings = ProblemSerializer(many=True)


class ValidationResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    errors = ProblemSerializer(many=True)
    warnings = ProblemSerializer(many=True)


class PublishedSerializer(serializers.Serializer):
    id = serializers.CharField()
    version = serializers.IntegerField()


class HeadSerializer(serializers.Serializer):
    id = serializers.CharField(source="key")
    latestVersion = serializers.IntegerField(source="latest_version")  # noqa: N815
    activeVersion = serializers.IntegerField(source="active_version", allow_null=True)  # noqa: N815
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815
    updatedAt = serializers.DateTimeField(source="updated_at")  # noqa: N815


class VersionRowSerializer(serializers.Serializer):
    version = serializers.CharField(source="label")
    createdBy = serializers.CharField(source="created_by")  # noqa: N815
    createdAt = serializers.DateTimeField(source="created_at")  # noqa: N815


class HistorySerializer(serializers.Serializer):
    id = serializers.CharField()
    latestVersion = serializers.IntegerField()  # noqa: N815
    activeVersion = serializers.IntegerField(allow_null=True)  # noqa: N815
    versions = VersionRowSerializer(many=True)


class ChangeSerializer(serializers.Serializer):
    path = serializers.CharField()
    op = serializers.ChoiceField(choices=["added", "removed", "changed"])
    old = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class DiffSerializer(serializers.Serializer):
    id = serializers.CharField()
    changes = ChangeSerializer(many=True)


class AuditEntrySerializer(serializers.Serializer):
    kind = serializers.CharField()
    id = serializers.CharField(source="key")
    version = serializers.IntegerField(allow_null=True)
    action = serializers.CharField()
    actor = serializers.CharField()
    at = serializers.DateTimeField()
    details = serializers.JSONField()
