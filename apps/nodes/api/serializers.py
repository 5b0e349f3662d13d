"""The OpenAPI shape of a host limit (`/v3/host-limits/`). Bodies are validated by apps/nodes/host_limit_rules.py
(strict types, finite numbers, paths in the 400), these serializers describe them."""

from rest_framework import serializers

from apps.nodes.host_limit_rules import MAX_BURST, MAX_HOST_CHARS, MAX_IN_FLIGHT, MAX_RATE, MIN_RATE


class HostLimitBodySerializer(serializers.Serializer):
    host = serializers.CharField(max_length=MAX_HOST_CHARS, required=False,
                                 help_text="name or name:port (lower-cased, IDNA). Required on POST; on PUT it must "
                                           "match the URL's.")
    requestsPerSecond = serializers.FloatField(min_value=MIN_RATE, max_value=MAX_RATE, allow_null=True,
                                               required=False, help_text="Token bucket rate; null: no rate.")
    burst = serializers.FloatField(min_value=1, max_value=MAX_BURST, required=False,
                                   help_text="The bucket's size, full at start (default 1).")
    maxInFlight = serializers.IntegerField(min_value=1, max_value=MAX_IN_FLIGHT, allow_null=True, required=False,
                                           help_text="Requests open at once; null: no cap.")


class HostLimitSerializer(HostLimitBodySerializer):
    host = serializers.CharField()
    updatedAt = serializers.DateTimeField()
    updatedBy = serializers.CharField()
