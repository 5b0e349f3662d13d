"""`limits.startsPerMinute` (spec §13): at most that many starts of a workflow in any 60 s (a sliding window),
through the real stack. The test moves the window by ageing the recorded starts instead of waiting a minute."""

from __future__ import annotations

import pytest

from apps.runs.admission import WINDOW_SECONDS
from apps.runs.models import AdmissionGate, QueuedStart, Run
from apps.runs.tasks import release_queued_starts
from devtools.testing.builders import state, success_node, wait_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import start, wait_for

pytestmark = pytest.mark.temporal


def _publish(tenant: str, key: str, limits: dict) -> None:
    publish_definitions(tenant, [wait_node("park", waitType="ON_EVENT", eventName="go"), success_node()],
                        [workflow(key, "w", [state("w", "park", "done"), state("done")], limits=limits)])


def _age_window(tenant: str, key: str) -> None:
    """The window moves on: every recorded start is now older than WINDOW_SECONDS."""
    gate = AdmissionGate.objects.get(tenant=tenant, workflow_key=key)
    gate.recent_starts = [at - WINDOW_SECONDS - 1 for at in gate.recent_starts]
    gate.save()


def test_starts_over_the_rate_are_rejected_with_the_seconds_until_the_window_frees(api, runs, tenant):
    _publish(tenant, "rate_rej", {"startsPerMinute": 2, "overflow": "REJECT"})
    assert [start(api, params={"workflowId": "rate_rej"}, mode="ASYNC").status_code for _ in range(2)] == [202] * 2
    refused = start(api, params={"workflowId": "rate_rej"}, mode="ASYNC")
    assert refused.status_code == 429, refused.json()
    assert 1 <= int(refused["Retry-After"]) <= WINDOW_SECONDS
    assert "started in the last minute" in refused.json()["message"]
    assert Run.objects.filter(definition_key="rate_rej").count() == 2  # the two runs are still open: rate only
    _age_window(tenant, "rate_rej")
    assert start(api, params={"workflowId": "rate_rej"}, mode="ASYNC").status_code == 202


def test_starts_over_the_rate_are_queued_and_released_as_the_window_moves(api, runs, tenant):
    _publish(tenant, "rate_q", {"maxConcurrentRuns": 10, "startsPerMinute": 2})
    ids = [start(api, params={"workflowId": "rate_q"}, mode="ASYNC").json()["workflowId"] for _ in range(5)]
    assert [Run.objects.get(workflow_id=i).status for i in ids[2:]] == ["QUEUED"] * 3
    assert release_queued_starts() == 0  # the window is full
    _age_window(tenant, "rate_q")
    assert release_queued_starts() == 2  # two more in the new window, the oldest queued first
    wait_for(lambda: Run.objects.filter(workflow_id__in=ids[:4], status="WAITING").count() == 4, "four runs")
    assert Run.objects.get(workflow_id=ids[4]).status == "QUEUED"
    assert QueuedStart.objects.filter(workflow_id=ids[4]).exists()
    _age_window(tenant, "rate_q")
    assert release_queued_starts() == 1
    wait_for(lambda: Run.objects.get(workflow_id=ids[4]).status == "WAITING", "the last run")
