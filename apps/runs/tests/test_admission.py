"""Run admission (spec §13): a workflow's `limits` QUEUE or REJECT starts over maxConcurrentRuns, through the
real stack (REST, Temporal dev server, in-process worker). Runs park at an ON_EVENT wait, so the test decides
when each ends: deterministic, no timing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.runs.admission import OPEN_STATUSES
from apps.runs.models import RERUN_ID_PREFIX, QueuedStart, Run
from apps.runs.tasks import release_queued_starts
from devtools.testing.builders import state, success_node, wait_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import start, wait_final, wait_for

pytestmark = pytest.mark.temporal

STARTS = 50  # the figure (issue 24, "Done when")
LIMIT = 5


def _publish(tenant: str, key: str, limits: dict) -> None:
    publish_definitions(
        tenant, [wait_node("park", waitType="ON_EVENT", eventName="go"), success_node()],
        [workflow(key, "w", [state("w", "park", "done"), state("done")], limits=limits)],
    )


class Sampler:
    """Counts the open runs at every poll of the test; remembers the most seen at once."""

    def __init__(self, key: str) -> None:
        self.key, self.most = key, 0

    def sample(self) -> int:
        count = Run.objects.filter(definition_key=self.key, status__in=OPEN_STATUSES).count()
        self.most = max(self.most, count)
        return count


def _started(arrival: list[str]):
    return Run.objects.filter(workflow_id__in=arrival).exclude(status="QUEUED")


def test_queue_holds_starts_over_the_limit_and_releases_them_in_arrival_order(api, runs, tenant,
                                                                             celery_worker):  # noqa: F811
    _publish(tenant, "lim", {"maxConcurrentRuns": LIMIT, "overflow": "QUEUE"})
    sampler = Sampler("lim")
    arrival = []
    for _ in range(STARTS):
        reply = start(api, params={"workflowId": "lim"})
        assert reply.status_code in (200, 202), reply.json()
        arrival.append(reply.json()["workflowId"])
        sampler.sample()
    queued = Run.objects.filter(workflow_id__in=arrival, status="QUEUED")
    assert queued.count() == STARTS - LIMIT
    searched = api.get("/v3/workflow", {"status": "QUEUED", "workflowDefinitionId": "lim"})
    assert searched.status_code == 200, searched.json()
    assert {item["workflowId"] for item in searched.json()["items"]} == set(arrival[LIMIT:])
    # Ends the runs one by one, oldest first: each end frees one slot, which must go to the oldest queued start
    # (the run-end path's Celery task; no beat runs in this test).
    for index, workflow_id in enumerate(arrival):
        wait_for(lambda wid=workflow_id: sampler.sample() and Run.objects.get(workflow_id=wid).status == "WAITING",
                 f"{workflow_id} to wait")
        expected = min(STARTS, index + LIMIT)
        wait_for(lambda n=expected: _started(arrival).count() == n, f"{expected} runs released")
        started = set(_started(arrival).values_list("workflow_id", flat=True))
        assert started == set(arrival[:expected]), "released out of arrival order"
        sent = api.post(f"/v3/workflow/{workflow_id}/event/go", {}, format="json")
        assert sent.status_code == 202, sent.json()
        assert wait_final(workflow_id).status == "COMPLETED"
        sampler.sample()
    assert sampler.most == LIMIT
    finished = list(Run.objects.filter(workflow_id__in=arrival).order_by("finished_at")
                    .values_list("workflow_id", flat=True))
    assert finished == arrival
    assert not QueuedStart.objects.exists()


def test_reject_answers_429_with_retry_after_until_a_slot_frees(api, runs, tenant, settings):
    settings.DRIFT_ADMISSION_RETRY_AFTER_SECONDS = 7
    _publish(tenant, "rej", {"maxConcurrentRuns": 1, "overflow": "REJECT"})
    first = start(api, params={"workflowId": "rej"}).json()
    assert first["workflowStatus"] == "WAITING"
    refused = start(api, params={"workflowId": "rej"})
    assert refused.status_code == 429, refused.json()
    assert refused["Retry-After"] == "7"
    assert refused.json()["error"] == "TOO_MANY_REQUESTS"
    assert Run.objects.filter(definition_key="rej").count() == 1  # nothing stored for the refused start
    api.post(f"/v3/workflow/{first['workflowId']}/event/go", {}, format="json")
    wait_final(first["workflowId"])
    assert start(api, params={"workflowId": "rej"}).json()["workflowStatus"] == "WAITING"


def test_the_beat_releases_a_slot_freed_without_the_run_end_path(api, runs, tenant):
    """A run whose end reached the mirror some other way (e.g. a hard terminate outside Drift, reconciled):
    the count comes from the statuses, so the bounded beat job finds the free slot."""
    _publish(tenant, "beat", {"maxConcurrentRuns": 1, "overflow": "QUEUE"})
    first = start(api, params={"workflowId": "beat"}).json()
    second = start(api, params={"workflowId": "beat"})
    assert (second.status_code, second.json()["workflowStatus"]) == (202, "QUEUED")
    Run.objects.filter(workflow_id=first["workflowId"]).update(status="FAILED")
    assert release_queued_starts() == 1
    wait_for(lambda: Run.objects.get(workflow_id=second.json()["workflowId"]).status == "WAITING", "release")


def test_a_queued_run_is_terminated_without_temporal(api, runs, tenant):
    _publish(tenant, "term", {"maxConcurrentRuns": 1, "overflow": "QUEUE"})
    start(api, params={"workflowId": "term"})
    queued = start(api, params={"workflowId": "term"}).json()["workflowId"]
    ended = api.delete(f"/v3/workflow/terminate/{queued}", {"reason": "no"}, format="json")
    assert ended.status_code == 200, ended.json()
    assert Run.objects.get(workflow_id=queued).status == "TERMINATED"
    assert release_queued_starts() == 0
    assert not QueuedStart.objects.filter(workflow_id=queued).exists()


def test_a_rerun_over_the_limit_is_queued_then_started_when_a_slot_frees(admin_client, api, runs, tenant,
                                                                        celery_worker):  # noqa: F811
    _publish(tenant, "rr", {"maxConcurrentRuns": 1, "overflow": "QUEUE"})
    first = start(api, params={"workflowId": "rr"}).json()["workflowId"]
    api.post(f"/v3/workflow/{first}/event/go", {}, format="json")
    wait_final(first)
    second = start(api, params={"workflowId": "rr"}).json()["workflowId"]
    assert Run.objects.get(workflow_id=second).status == "WAITING"
    # The rerun is an operation (apps.operations, above this app): asked for as the admin's Rerun button does.
    admin_client.post(reverse("admin:runs_run_rerun", args=[Run.objects.get(workflow_id=first).pk]))
    rerun = Run.objects.get(workflow_id__startswith=RERUN_ID_PREFIX)
    assert rerun.status == "QUEUED"
    api.post(f"/v3/workflow/{second}/event/go", {}, format="json")
    wait_for(lambda: Run.objects.get(workflow_id=rerun.workflow_id).status == "WAITING", "the rerun to start")


def test_concurrent_starts_never_take_more_slots_than_the_limit(api, runs, tenant):
    """12 starts at once against a limit of 3: the count and the registration are one step (the gate lock)."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from devtools.testing.rest import client_for

    _publish(tenant, "burst", {"maxConcurrentRuns": 3, "overflow": "REJECT"})

    def one_start(_: int) -> int:
        try:
            return start(client_for(tenant), params={"workflowId": "burst"}).status_code
        finally:
            connection.close()  # each thread had its own connection

    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = sorted(pool.map(one_start, range(12)))
    assert codes == [200] * 3 + [429] * 9, codes
    assert Run.objects.filter(definition_key="burst", status__in=OPEN_STATUSES).count() == 3


def test_terminating_an_open_run_releases_the_next_queued_start(api, runs, tenant, celery_worker):  # noqa: F811
    _publish(tenant, "kill", {"maxConcurrentRuns": 1, "overflow": "QUEUE"})
    first = start(api, params={"workflowId": "kill"}).json()["workflowId"]
    queued = start(api, params={"workflowId": "kill"}).json()["workflowId"]
    assert Run.objects.get(workflow_id=queued).status == "QUEUED"
    ended = api.delete(f"/v3/workflow/terminate/{first}", {"reason": "stop"}, format="json")
    assert ended.status_code == 200, ended.json()
    wait_for(lambda: Run.objects.get(workflow_id=queued).status == "WAITING", "the queued start to run")


def test_tenant_defaults_apply_to_workflows_without_limits_and_a_bad_default_is_ignored(api, runs, tenant,
                                                                                       settings):
    publish_definitions(tenant, [wait_node("park", waitType="ON_EVENT", eventName="go"), success_node()],
                        [workflow("plain", "w", [state("w", "park", "done"), state("done")])])
    settings.DRIFT_TENANT_LIMITS = {tenant: {"maxConcurrentRuns": 1, "overflow": "REJECT"}}
    assert start(api, params={"workflowId": "plain"}).status_code == 200
    assert start(api, params={"workflowId": "plain"}).status_code == 429
    # A definition's own limits win over the tenant's default.
    publish_definitions(tenant, [], [workflow("own", "w", [state("w", "park", "done"), state("done")],
                                              limits={"maxConcurrentRuns": 2, "overflow": "REJECT"})])
    assert [start(api, params={"workflowId": "own"}).status_code for _ in range(3)] == [200, 200, 429]
    for bad in ({"maxConcurrentRuns": "x"}, {"maxConcurrentRuns": float("nan")}, "5", {"maxConcurrentRuns": -1}):
        settings.DRIFT_TENANT_LIMITS = {"*": bad}
        assert start(api, params={"workflowId": "plain"}).status_code == 200


def _publish_next_version(tenant: str, body: dict) -> None:
    from apps.definitions.models import DefinitionKind
    from apps.definitions.services import definition_activate, definition_publish, definition_save_snapshot

    kind = DefinitionKind.WORKFLOW
    definition_save_snapshot(tenant=tenant, kind=kind, body=body, actor="tests", create=False)
    published = definition_publish(tenant=tenant, kind=kind, key=body["id"], actor="tests")
    definition_activate(tenant=tenant, kind=kind, key=body["id"], version=published.version, actor="tests")


def test_only_a_queued_start_keeps_its_pinned_definition_and_its_release_starts_that_version(api, runs, tenant):
    """A started run's `start_request` holds no copy of the definition (its row names the version); a QUEUED one
    keeps it, and its release starts the version pinned at admission though another was activated meanwhile."""
    limits = {"maxConcurrentRuns": 1, "overflow": "QUEUE"}
    _publish(tenant, "pin", limits)
    first = start(api, params={"workflowId": "pin"}).json()["workflowId"]
    started = Run.objects.get(workflow_id=first)
    assert (started.status, started.definition_version) == ("WAITING", 1)
    assert started.start_request["pinned"] is None
    assert started.start_request["workflow_key"] == "pin" and started.start_request["version"] == "1"
    queued = start(api, params={"workflowId": "pin"}).json()["workflowId"]
    held = Run.objects.get(workflow_id=queued)
    assert held.status == "QUEUED" and held.start_request["pinned"]["version"] == 1
    # Version 2 ends at once (no wait): a release that re-resolved ACTIVE would complete without waiting.
    _publish_next_version(tenant, workflow("pin", "done", [state("done")], limits=limits))
    api.post(f"/v3/workflow/{first}/event/go", {}, format="json")
    assert wait_final(first).status == "COMPLETED"
    assert release_queued_starts() == 1
    wait_for(lambda: Run.objects.get(workflow_id=queued).status == "WAITING", "the queued start to run")
    assert Run.objects.get(workflow_id=queued).definition_version == 1
    api.post(f"/v3/workflow/{queued}/event/go", {}, format="json")
    assert wait_final(queued).status == "COMPLETED"
