"""A/B bucketing of route variants. The provider is an extension point: settings.DRIFT_AB_PROVIDER."""

import functools
import hashlib
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class ABProvider(Protocol):
    def choose(self, *, tenant: str, issue_id: str, variants: list[dict], bucket_key: str) -> dict:
        """One of `variants` ({"workflowId", "version", "weight"}), for this bucket key."""


class StableHashABProvider:
    """Weighted buckets from sha256(tenant, issueId, bucket key): the same customer or incident always
    lands on the same variant while the weights stay the same."""

    def choose(self, *, tenant: str, issue_id: str, variants: list[dict], bucket_key: str) -> dict:
        weighted = [v for v in variants if v["weight"] > 0]
        total = sum(v["weight"] for v in weighted)
        digest = hashlib.sha256(f"{tenant}\x00{issue_id}\x00{bucket_key}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") % total
        for variant in weighted:
            if point < variant["weight"]:
                return variant
            point -= variant["weight"]
        raise AssertionError("unreachable: point < total")


@functools.cache
def _provider(path: str) -> ABProvider:
    return import_string(path)()


def ab_provider() -> ABProvider:
    return _provider(settings.DRIFT_AB_PROVIDER)
