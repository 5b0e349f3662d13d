"""The per-receiver delivery slots on the test session's real Redis."""

from __future__ import annotations

import uuid

from apps.runs.webhooks.slots import receiver_keys, receiver_slots
from devtools.testing.rest import wait_for


def _caps(settings, *, per_host: int, per_client: int) -> tuple[dict[str, int], dict[str, int]]:
    """The caps of one client calling two hosts."""
    settings.DRIFT_WEBHOOK_MAX_IN_FLIGHT_PER_HOST = per_host
    settings.DRIFT_WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT = per_client
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    first = receiver_keys(url=f"https://{tenant}-a.example.com/hook", tenant=tenant, client_id="c")
    second = receiver_keys(url=f"https://{tenant}-b.example.com:8443/hook", tenant=tenant, client_id="c")
    return first, second


def _free(caps: dict[str, int]) -> bool:
    with receiver_slots(caps, lease_seconds=30) as acquired:
        return acquired


def test_a_host_at_its_cap_refuses_until_a_slot_is_released(settings):
    host_a, host_b = _caps(settings, per_host=1, per_client=5)
    with receiver_slots(host_a, lease_seconds=30) as first:
        assert first
        assert not _free(host_a)  # the same host
        assert _free(host_b)  # another host of the same client
    assert _free(host_a)


def test_a_client_is_capped_across_all_its_hosts(settings):
    host_a, host_b = _caps(settings, per_host=5, per_client=1)
    with receiver_slots(host_a, lease_seconds=30) as first:
        assert first
        assert not _free(host_b)
    assert _free(host_b)


def test_a_slot_whose_holder_died_is_freed_when_its_lease_ends(settings):
    host_a, _ = _caps(settings, per_host=1, per_client=1)
    held = receiver_slots(host_a, lease_seconds=0.3)
    assert held.__enter__()  # never exited: the process was killed mid-delivery
    assert not _free(host_a)
    wait_for(lambda: _free(host_a), "the lease to run out", timeout=10)
