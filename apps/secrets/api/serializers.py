from rest_framework import serializers

from apps.secrets.services import MAX_VALUE_CHARS


class StrictCharField(serializers.CharField):
    """Text only: DRF's CharField would take 5 or NaN and store "5" / "nan" as a credential."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate ("\ud800") could never be sent in a header or body
            self.fail("invalid")
        return super().to_internal_value(data)


class SecretValueSerializer(serializers.Serializer):
    value = StrictCharField(max_length=MAX_VALUE_CHARS, trim_whitespace=False,
                            help_text="Stored encrypted; never returned by any endpoint.")


class SecretSerializer(serializers.Serializer):
    """What the API says about a secret: never its value."""

    name = serializers.CharField()
    updatedAt = serializers.DateTimeField(source="updated_at")
    updatedBy = serializers.CharField(source="updated_by")
