"""Issue 19, finding 8: values a definition marks sensitive (`sensitivePaths`) are not kept in clear by the
search index of params, schedule bodies, a redrive's audited contextPatch or a bulk job's options; the runs
they start still get them (real worker, Temporal, Celery)."""

from __future__ import annotations

import json

import pytest

from apps.definitions.models import AuditEntry
from apps.operations.models import BulkJob
from apps.operations.models import Schedule as ScheduleRow
from apps.runs.context_store import get_context_store
from apps.runs.models import Run, RunParam
from apps.runs.selectors import run_sealing
from apps.secrets.sealing import unseal
from devtools.testing.builders import script_node, state, success_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.operations import bulk_job_done
from devtools.testing.rest import start, wait_final, wait_for

pytestmark = pytest.mark.temporal
SSN, CARD = "123-45-6789", "4111-1111-1111-1111"


def _secret_flow(tenant: str) -> None:
    """prep -> charge -> done; `charge` fails until the context says `fixed`; the card and the ssn are sensitive."""
    publish_definitions(
        tenant,
        [script_node("prep", "return {'amount': 10}"),
         script_node("charge", "return _global.prep.amount / (1 if _global.fixed else 0)"), success_node()],
        [workflow("pay", "prep", [state("prep", "prep", "charge"), state("charge", "charge", "done"), state("done")],
                  sensitivePaths=["$.card", "$.params.ssn"])],
    )


def _context(workflow_id: str) -> dict:
    return unseal(get_context_store().load(workflow_id).context, run_sealing(Run.objects.get(workflow_id=workflow_id)))


def test_the_search_index_and_schedule_bodies_hold_no_clear_sensitive_value(api, runs, tenant):
    _secret_flow(tenant)
    started = start(api, params={"workflowId": "pay", "ssn": SSN, "note": "plain-note"}).json()["workflowId"]
    assert dict(RunParam.objects.filter(run__workflow_id=started).values_list("name", "value")) == {
        "workflowId": "pay", "note": "plain-note"}
    assert api.get("/v3/workflow", {"param.ssn": SSN}).json()["items"] == []
    assert [item["workflowId"] for item in api.get("/v3/workflow", {"param.note": "plain-note"}).json()["items"]] \
        == [started]

    created = api.post("/v3/schedules/", {"id": "monthly", "workflowId": "pay", "cron": "0 0 1 * *", "paused": True,
                                          "start": {"params": {"ssn": SSN, "note": "n"}}}, format="json")
    assert created.status_code == 201, created.content
    assert SSN not in created.content.decode() and created.json()["start"]["params"]["note"] == "n"
    assert SSN not in json.dumps(ScheduleRow.objects.get(tenant=tenant, schedule_id="monthly").start)
    assert api.post("/v3/schedules/monthly/trigger").status_code == 200
    fired = wait_for(lambda: Run.objects.filter(tenant=tenant, status="FAILED").exclude(workflow_id=started).first(),
                     "the triggered run", 60)
    assert _context(fired.workflow_id)["params"]["ssn"] == SSN  # the run itself got it
    assert not RunParam.objects.filter(run=fired, name="ssn").exists()


@pytest.mark.usefixtures("celery_worker")
def test_a_redrive_patch_and_bulk_options_hold_no_clear_sensitive_value(api, runs, tenant):
    _secret_flow(tenant)
    failed = [start(api, params={"workflowId": "pay"}).json()["workflowId"] for _ in range(2)]
    patch = {"fixed": True, "card": CARD}

    single = api.post(f"/v3/workflow/{failed[0]}/redrive", {"contextPatch": patch}, format="json")
    assert single.status_code == 202, single.content
    assert wait_final(single.json()["workflowId"]).status == "COMPLETED"
    assert _context(single.json()["workflowId"])["card"] == CARD
    details = AuditEntry.objects.get(tenant=tenant, kind="RUN", key=failed[0]).details
    assert details["contextPatch"]["fixed"] is True and CARD not in json.dumps(details)

    bulk = api.post("/v3/bulk/redrive", {"ids": [failed[1]], "contextPatch": patch}, format="json")
    assert bulk.status_code == 202, bulk.content
    assert CARD not in json.dumps(BulkJob.objects.get(job_id=bulk.json()["jobId"]).options)
    assert bulk_job_done(api, bulk.json()["jobId"])["done"] == 1
    redriven = Run.objects.get(redrive_of=failed[1])
    assert wait_final(redriven.workflow_id).status == "COMPLETED"
    assert _context(redriven.workflow_id)["card"] == CARD
