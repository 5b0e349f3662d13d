"""With Temporal down the API answers 503 + Retry-After, and recovers without a restart once it is back.

The session's dev server is in-memory, so this test runs its own persistent one (same port across the
restart, state kept) and points the API's client at it."""

from __future__ import annotations

import pytest

import drift.temporal
from apps.runs.models import Run
from devtools.services import start_temporal
from devtools.testing.builders import state, wait_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import start, start_order

pytestmark = pytest.mark.temporal


def _assert_unavailable(response) -> None:
    assert response.status_code == 503, response.json()
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"] == "UNAVAILABLE"


def test_temporal_down_answers_503_then_recovers_without_restart(api, samples, own_temporal, tmp_path, tenant):
    # A run that waits for `paid` (the API refuses, without Temporal, an event its pinned version cannot consume).
    publish_definitions(tenant, [wait_node("await_paid", waitType="ON_EVENT", eventName="paid")],
                        [workflow("evt", "w", [state("w", "await_paid", "finish"), state("finish", "done")])])
    accepted = start(api, params={"workflowId": "evt"}, mode="ASYNC")
    assert accepted.status_code == 202, accepted.json()
    workflow_id = accepted.json()["workflowId"]

    server = own_temporal[0]
    server.stop()
    _assert_unavailable(start_order(api, "1"))
    _assert_unavailable(start_order(api, "1", mode="ASYNC"))
    _assert_unavailable(api.post(f"/v3/workflow/{workflow_id}/event/paid", {"a": 1}, format="json"))
    _assert_unavailable(api.put(f"/v3/workflow/resume/{workflow_id}", {"viewResponse": {}}, format="json"))
    _assert_unavailable(api.delete(f"/v3/workflow/terminate/{workflow_id}"))
    assert api.get(f"/v3/workflow/{workflow_id}").status_code == 200  # reads come from the Run mirror

    own_temporal.append(start_temporal(tmp_path, port=server.port))
    sent = api.post(f"/v3/workflow/{workflow_id}/event/paid", {"a": 1}, format="json")
    assert sent.status_code == 202, sent.json()
    ended = api.delete(f"/v3/workflow/terminate/{workflow_id}")
    assert ended.status_code == 200, ended.json()
    assert ended.json()["workflowStatus"] == "TERMINATED"
    again = start(api, issueDetail={"issueId": "order_status"}, params={"orderId": "2"}, mode="ASYNC")
    assert again.status_code == 202, again.json()


def test_never_reachable_temporal_answers_503_at_once(api, samples, settings):
    settings.TEMPORAL_ADDRESS = "127.0.0.1:1"
    drift.temporal._client = None
    try:
        _assert_unavailable(start_order(api, "1", workflowId="never-started"))
        assert not Run.objects.filter(workflow_id="never-started").exists()  # no orphan CREATED row
    finally:
        drift.temporal._client = None
