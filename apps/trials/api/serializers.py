"""Inputs of the try/test endpoints (spec §9) and their shapes for the schema."""

from typing import Any

from rest_framework import serializers

MAX_DEPTH = 64  # deeper values would exhaust the stack of the sandbox's and the renderer's recursive encoders


def _check_value(value: Any) -> None:
    """Values are echoed back in reports (UTF-8) and sent to the sandbox: no lone surrogate, bounded depth.
    Iterative, so a deep value cannot exhaust the stack here either."""
    pending = [(value, "$", 0)]
    while pending:
        item, path, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise serializers.ValidationError(f"{path}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise serializers.ValidationError(f"{path}: contains a lone surrogate") from None
        elif isinstance(item, dict):
            pending += [(key, path, depth + 1) for key in item]
            pending += [(child, f"{path}.{key}", depth + 1) for key, child in item.items()]
        elif isinstance(item, list):
            pending += [(child, f"{path}[{index}]", depth + 1) for index, child in enumerate(item)]


class JSONObjectField(serializers.DictField):
    def to_internal_value(self, data: Any) -> dict:
        value = super().to_internal_value(data)
        _check_value(value)
        return value


class HttpMockSerializer(serializers.Serializer):
    status = serializers.IntegerField(min_value=100, max_value=599, default=200)
    body = serializers.JSONField(required=False, allow_null=True, default=None)

    def validate_body(self, value: Any) -> Any:
        _check_value(value)
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
