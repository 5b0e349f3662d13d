from rest_framework import serializers

from apps.secrets.services import MAX_VALUE_CHARS


class SecretValueSerializer(serializers.Serializer):
    value = serializers.CharField(max_length=MAX_VALUE_CHARS, trim_whitespace=False,
                                  help_text="Stored encrypted; never returned by any endpoint.")


class SecretSerializer(serializers.Serializer):
    """What the API says about a secret: never its value."""

    name = serializers.CharField()
    updatedAt = serializers.DateTimeField(source="updated_at")
    updatedBy = serializers.CharField(source="updated_by")
