"""Engine level 2 (worker/versions.py): the RUNNING state after a resume is stored by the next local node's
activity instead of a local activity of its own (worker/engine.py, `Engine.running`). Each flow runs at level 2 and
as a run begun before it (`before_engine_2`: its own persist), and both must leave the same timeline, mirror and
context; anything that is not a local node's activity (a remote node here) finds the RUNNING state stored first."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from apps.runs.context_store import get_context_store
from apps.runs.contract import UPDATE_RESUME
from apps.runs.models import NodeExecution, Run, RunStatus
from devtools.testing.builders import instruction_node, script_node, state, success_node, value, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import wait_final
from drift.temporal import run_async

pytestmark = pytest.mark.temporal

REPLY = {"viewResponse": {"selectedOptions": {"choice": "B"}}}


def _ask_flow(tenant: str, after: dict[str, Any] | None = None) -> None:
    """A screen, then `after` (a SCRIPT echoing the choice unless given), then SUCCESS."""
    echo = after or script_node("echo", "return _global['q:viewResponse'].selectedOptions.choice")
    publish_definitions(
        tenant, [instruction_node("ask", [{"id": "choice"}]), echo, success_node()],
        [workflow("ask", "q", [state("q", "ask", "e"), state("e", echo["id"], "done"), state("done")])],
    )


def _local_activities(runs, workflow_id: str) -> int:
    history = run_async(runs.client.get_workflow_handle(workflow_id).fetch_history())
    return sum(event.marker_recorded_event_attributes.marker_name == "core_local_activity"
               for event in history.events if event.HasField("marker_recorded_event_attributes"))


def _resumed(runs, reply: dict[str, Any] = REPLY) -> str:
    waiting = runs.start("ask")
    assert waiting["workflowStatus"] == RunStatus.WAITING, waiting
    runs.update(waiting["workflowId"], UPDATE_RESUME, reply)
    return waiting["workflowId"]


def _rows(workflow_id: str) -> list[tuple]:
    rows = NodeExecution.objects.filter(run__workflow_id=workflow_id).order_by("seq")
    return list(rows.values_list("seq", "instance_name", "node_type", "outcome", "error"))


def test_the_running_state_after_a_resume_rides_on_the_next_node_s_activity(runs, tenant, before_engine_2):
    _ask_flow(tenant)
    carried_id = _resumed(runs)
    with before_engine_2:
        own_id = _resumed(runs)
    own, carried = Run.objects.get(workflow_id=own_id), Run.objects.get(workflow_id=carried_id)
    assert (carried.status, carried.state_seq) == (own.status, own.state_seq) == (RunStatus.COMPLETED, own.state_seq)
    assert _rows(carried_id) == _rows(own_id)
    assert [row[1:4] for row in _rows(carried_id)] == [("q", "INSTRUCTION", "SUCCESS"), ("q", "INSTRUCTION", "RESUMED"),
                                                       ("e", "SCRIPT", "SUCCESS"), ("done", "SUCCESS", "SUCCESS")]
    assert runs.result(carried_id)["output"]["e"] == runs.result(own_id)["output"]["e"] == "B"
    # One fewer for the carried RUNNING state, one for the run's end stored by the last node's (engine level 4).
    assert _local_activities(runs, carried_id) == _local_activities(runs, own_id) - 2


def test_a_remote_node_after_a_resume_finds_the_running_state_stored(runs, tenant, settings, httpserver,
                                                                     before_engine_2):
    """A remote node's input is recorded in history, so it carries nothing: the RUNNING state is stored on its
    own before the call (the mirror says RUNNING while the upstream answers), at both levels."""
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    seen: list[str] = []

    def answer(request):  # noqa: ANN001 - werkzeug request
        from werkzeug import Response

        seen.append(Run.objects.order_by("-id").values_list("status", flat=True).first())
        return Response(json.dumps({"ok": True}), content_type="application/json")

    httpserver.expect_request("/ping").respond_with_handler(answer)
    fetch = {"id": "fetch", "name": "fetch", "type": "HTTP",
             "httpComponents": {"url": value(httpserver.url_for("/ping"), "STATIC"), "method": "GET"}}
    _ask_flow(tenant, after=fetch)
    assert wait_final(_resumed(runs)).status == RunStatus.COMPLETED
    with before_engine_2:
        assert wait_final(_resumed(runs)).status == RunStatus.COMPLETED
    assert seen == [RunStatus.RUNNING, RunStatus.RUNNING]


def test_a_carried_state_that_cannot_be_stored_fails_the_run(runs, tenant):
    """The safety net behind the API's refusal of NaN: a resume sent straight through Temporal puts NaN in the
    context; the activity carrying the RUNNING state cannot store it, and the run ends FAILED with the path, its
    context stored with the value nulled, as when the state had its own persist."""
    _ask_flow(tenant)
    workflow_id = _resumed(runs, reply={"viewResponse": {"selectedOptions": {"choice": math.inf}}})
    run = wait_final(workflow_id)
    assert run.status == RunStatus.FAILED
    assert run.error_message.startswith("the run state cannot be stored: $.context.q:viewResponse.selectedOptions"
                                        ".choice is not a finite"), run.error_message
    stored = get_context_store().load(workflow_id)
    assert stored is not None and stored.status == RunStatus.FAILED
    assert stored.context["q:viewResponse"] == {"selectedOptions": {"choice": None}}
