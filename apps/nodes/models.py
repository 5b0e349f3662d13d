"""Downstream host limits kept by platform operators (spec §13): one row per host, shared by every run, worker
process and tenant. The worker reads them through apps/nodes/host_limits.py (cached per process)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from apps.nodes.host_limit_rules import MAX_HOST_CHARS, normalize_host, number_problems

# The API's field paths as the model's field names (the admin form's errors land on the right field).
FIELD_OF_PATH = {"$.requestsPerSecond": "requests_per_second", "$.burst": "burst", "$.maxInFlight": "max_in_flight",
                 "$": "__all__"}


class HostLimit(models.Model):
    host = models.CharField(max_length=MAX_HOST_CHARS, unique=True,
                            help_text="name or name:port, e.g. api.partner.com or api.partner.com:8443 "
                                      "(lower-cased; an internationalised name is kept in its xn-- form).")
    requests_per_second = models.FloatField(null=True, blank=True,
                                            help_text="Token bucket refill rate; empty: no rate limit.")
    burst = models.FloatField(default=1, help_text="The bucket's size (full at start), at least 1.")
    max_in_flight = models.PositiveIntegerField(null=True, blank=True,
                                                help_text="Requests open at once; empty: no cap.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.CharField(max_length=150, blank=True, default="")

    class Meta:
        ordering = ["host"]

    def __str__(self) -> str:
        return self.host

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        try:
            self.host = normalize_host(self.host)
        except ValueError as exc:
            errors["host"] = [str(exc)]
        for problem in number_problems(self.requests_per_second, self.burst, self.max_in_flight):
            errors.setdefault(FIELD_OF_PATH[problem.path], []).append(problem.problem)
        if errors:
            raise ValidationError(errors)
