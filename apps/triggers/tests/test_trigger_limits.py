"""Trigger starts go through run admission (spec §13): REJECT retries the event with backoff until a slot
frees; QUEUE stores the run QUEUED and the event is done."""

from __future__ import annotations

import pytest

from apps.runs.models import Run
from apps.triggers.models import EventStatus, TriggerEvent
from apps.triggers.services import event_deliver
from devtools.testing.builders import state, success_node, wait_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import wait_final
from devtools.testing.triggers import post_hook, put_secret, start_trigger

pytestmark = pytest.mark.temporal


@pytest.fixture
def held(api, runs, tenant, settings) -> str:
    settings.DRIFT_TRIGGER_BACKOFF_BASE_SECONDS = 0.2
    publish_definitions(tenant, [wait_node("park", waitType="ON_EVENT", eventName="go"), success_node()], [
        workflow(key, "w", [state("w", "park", "done"), state("done")], limits={"maxConcurrentRuns": 1,
                                                                                "overflow": overflow})
        for key, overflow in (("rej", "REJECT"), ("que", "QUEUE"))])
    put_secret(tenant)
    for trigger_id, key in (("to-rej", "rej"), ("to-que", "que")):
        body = start_trigger(trigger_id, workflow={"workflowDefinitionId": key}, mapping={"params.source": "shop"},
                             dedupeKey=None)
        assert api.post("/v3/triggers/", {k: v for k, v in body.items() if v is not None},
                        format="json").status_code == 201, body
    return tenant


def _event(event_id: str) -> TriggerEvent:
    return TriggerEvent.objects.get(event_id=event_id)


def test_a_rejected_trigger_start_is_retried_until_a_slot_frees(api, held):
    first = api.post("/v3/workflow/start", {"params": {"workflowId": "rej"}}, format="json").json()["workflowId"]
    event_id = post_hook(held, "to-rej", {"n": 1}).json()["eventId"]
    assert event_deliver(event_id) is not None  # over the limit: retried, not failed
    assert _event(event_id).status == EventStatus.PENDING and "limit" in _event(event_id).error
    api.post(f"/v3/workflow/{first}/event/go", {}, format="json")
    wait_final(first)
    assert event_deliver(event_id) is None
    assert _event(event_id).status == EventStatus.DONE, _event(event_id).error


def test_a_queued_trigger_start_is_done_with_its_run_queued(api, held):
    api.post("/v3/workflow/start", {"params": {"workflowId": "que"}}, format="json")
    event_id = post_hook(held, "to-que", {"n": 1}).json()["eventId"]
    assert event_deliver(event_id) is None
    assert _event(event_id).status == EventStatus.DONE, _event(event_id).error
    assert Run.objects.get(workflow_id=_event(event_id).workflow_id).status == "QUEUED"
