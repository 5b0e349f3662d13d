"""Inputs of the try/test endpoints (spec §9) and their shapes for the schema."""

from typing import Any

from rest_framework import serializers


def _no_lone_surrogates(value: Any, path: str = "$") -> None:
    """Values are echoed back in reports (UTF-8): a lone surrogate could not be, so it is refused up front."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise serializers.ValidationError(f"{path}: contains a lone surrogate") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_lone_surrogates(key, path)
            _no_lone_surrogates(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _no_lone_surrogates(item, f"{path}[{index}]")


class JSONObjectField(serializers.DictField):
    def to_internal_value(self, data: Any) -> dict:
        value = super().to_internal_value(data)
        _no_lone_surrogates(value)
        return value


class HttpMockSerializer(serializers.Serializer):
    status = serializers.IntegerField(min_value=100, max_value=599, default=200)
    body = serializers.JSONField(required=False, allow_null=True, default=None)

    def validate_body(self, value: Any) -> Any:
        _no_lone_surrogates(value)
        return value


class DryRunInputSerializer(serializers.Serializer):
    context = JSONObjectField(default=dict, help_text="The `_global` object the node sees.")
    parameters = JSONObjectField(required=False, allow_null=True, default=None,
                                 help_text="`nodeParameters`; defaults to `context.nodeParameters`.")
    mock = HttpMockSerializer(required=False, allow_null=True, default=None,
                              help_text="HTTP only: answer with this response instead of calling out.")


class DryRunErrorSerializer(serializers.Serializer):
    message = serializers.CharField()
    line = serializers.IntegerField(allow_null=True, help_text="The script line, when a script failed.")
    retryable = serializers.BooleanField()


class DryRunReportSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    node = serializers.CharField()
    version = serializers.JSONField()
    type = serializers.CharField()
    outcome = serializers.JSONField(required=False, help_text="output, nextNode, view, wait, child, terminal.")
    error = DryRunErrorSerializer(required=False)
    request = serializers.JSONField(required=False, help_text="HTTP: the request made (resolved components).")
    response = serializers.JSONField(required=False, help_text="HTTP: the response seen (`mocked` when mocked).")


class TestCaseReportSerializer(serializers.Serializer):
    name = serializers.CharField()
    passed = serializers.BooleanField()
    failure = serializers.CharField(allow_null=True, help_text="The first differing expectation.")
    status = serializers.CharField(allow_null=True)
    path = serializers.ListField(child=serializers.CharField())
    states = serializers.JSONField(help_text="The states the run reported (WAITING with its view, ...).")
    timeline = serializers.JSONField()


class TestReportSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    workflowId = serializers.CharField()  # noqa: N815 - the API's camelCase
    version = serializers.JSONField()
    passed = serializers.BooleanField()
    cases = TestCaseReportSerializer(many=True)
    actor = serializers.CharField()
    createdAt = serializers.DateTimeField()  # noqa: N815
