"""Flows and waits of the operations tests (redrive, bulk jobs) through the REST API."""

from __future__ import annotations

from devtools.testing.builders import script_node, state, success_node, wait_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import start, wait_for


def charge_flow(tenant: str) -> None:
    """prep -> charge -> done; `charge` divides by zero until the context says `fixed`."""
    publish_definitions(
        tenant,
        [script_node("prep", "return {'amount': 10}"),
         script_node("charge", "return _global.prep.amount / (1 if _global.fixed else 0)"),
         wait_node("hold", waitType="ON_EVENT", eventName="never"), success_node()],
        [workflow("pay", "prep", [state("prep", "prep", "charge"), state("charge", "charge", "done"),
                                  state("hold", "hold", "done"), state("done")])],
    )


def failed_run(api) -> str:
    """A run of `pay` (charge_flow) that failed at `charge`."""
    response = start(api, params={"workflowId": "pay"})
    assert response.json()["workflowStatus"] == "FAILED", response.json()
    return response.json()["workflowId"]


def bulk_job_done(api, job_id: str) -> dict:
    """The bulk job's body once its state is DONE."""
    return wait_for(lambda: (body := api.get(f"/v3/bulk/{job_id}").json())["state"] == "DONE" and body,
                    f"bulk job {job_id}", timeout=60)
