"""Spec §7 / issue 9: the original Drift's documentation, read from ../shared/reference/drift-original/ as it
is (a change there is caught here). Every JSON example of pages 06-09 is classified; the ones that need no
Groovy go unchanged through the real API and engine, the Groovy ones through `import_drift`."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from apps.definitions.drift_import import translate_document
from apps.definitions.groovy import translate
from apps.definitions.services import route_save
from apps.nodes.sandbox import evaluate
from apps.runs.models import Run
from devtools.testing.builders import script_node, state, success_node, workflow
from devtools.testing.drift_original import classified_examples, example_blocks

pytestmark = pytest.mark.temporal

def test_every_example_is_classified():
    kinds = {kind: len(items) for kind, items in classified_examples().items()}
    assert kinds == {"groovy node": 3, "node": 4, "fragment": 2, "context": 1, "workflow": 1, "start": 1,
                     "response": 1, "resume": 1, "view response": 1}


def _node(kinds: dict, node_id: str) -> dict:
    return next(node for node in kinds["node"] if node["id"] == node_id)


def _widget_script() -> str:
    """The Groovy of the recipe 'Dynamic Options via Groovy', step 1, translated."""
    (groovy_source,) = [block for _, block in example_blocks("groovy")]
    translation = translate(groovy_source)
    assert translation.problems == [], translation.problems
    return translation.source


def test_examples_without_groovy_load_and_run_unchanged(api, runs, tenant):
    kinds = classified_examples()
    nodes = kinds["node"]
    assert {node["id"] for node in nodes} == {"hold_for_15s", "launch_child_wf", "info_display",
                                              "show_dynamic_options"}
    # The nodes as documented (with their `"version": "1"`), through the definition API.
    for node in nodes:
        created = api.post("/nodeDefinition/", node, format="json")
        assert created.status_code == 201, created.json()
        assert api.post(f"/nodeDefinition/{node['id']}/publishNode/").status_code == 201
    # What the examples expect around them: the child the CHILD node starts, the outputs the views read.
    child_id = _node(kinds, "launch_child_wf")["childWorkflowId"]
    helpers = [script_node("prev_node_def", "return {'status': 'Open'}"),
               script_node("widget_def", _widget_script()), success_node("done")]
    flows = [workflow(child_id, "done", [state("done")]),
             workflow("compat_flow", "prev_node", [
                 state("prev_node", "prev_node_def", "prepare_instruction_data"),
                 state("prepare_instruction_data", "widget_def", "info"),
                 state("info", "info_display", "dynamic"),
                 state("dynamic", "show_dynamic_options", "child"),
                 state("child", "launch_child_wf", "hold"),
                 state("hold", "hold_for_15s", "done"), state("done")])]
    for kind, bodies in (("nodeDefinition", helpers), ("workflowDefinition", flows)):
        for body in bodies:
            assert api.post(f"/{kind}/", body, format="json").status_code == 201
            publish = "publishNode" if kind == "nodeDefinition" else "publishWorkflow"
            assert api.post(f"/{kind}/{body['id']}/{publish}/").status_code == 201
    assert api.post("/workflowDefinition/compat_flow/activate?version=1").status_code == 200
    (start_request,) = kinds["start"]
    route_save(tenant=tenant, issue_id=start_request["issueDetail"]["issueId"], workflow_key="compat_flow",
               actor="tests")

    # The documented start request, unchanged: the static text view.
    started = api.post("/v3/workflow/start", start_request, format="json")
    assert started.status_code == 200, started.json()
    body = started.json()
    (sample_response,) = kinds["response"]
    assert set(sample_response) <= set(body) and set(sample_response["view"]) <= set(body["view"])
    assert body["workflowStatus"] == "WAITING" and body["incidentId"] is None
    (option,) = body["view"]["inputOptions"]
    assert option["instructions"][0]["templateVariables"] == {"status": "Open"}
    workflow_id = body["workflowId"]

    # The documented resume request: the dynamic view is the Groovy step's Option list, whole.
    (resume_request,) = kinds["resume"]
    dynamic = api.put(f"/v3/workflow/resume/{workflow_id}", resume_request, format="json")
    assert dynamic.status_code == 200, dynamic.json()
    expected = evaluate(_widget_script(), {})
    assert dynamic.json()["view"]["inputOptions"] == expected

    # The documented ViewResponse: the CHILD node starts the child, the WAIT node holds the run.
    (view_response,) = kinds["view response"]
    held = api.put(f"/v3/workflow/resume/{workflow_id}", {"viewResponse": view_response}, format="json")
    assert held.status_code == 200, held.json()
    assert (held.json()["workflowStatus"], held.json()["currentNode"]) == ("SCHEDULER_WAITING", "hold")

    detail = api.get(f"/v3/workflow/{workflow_id}?includeContext=true").json()
    context = detail["_global"]
    (sample_context,) = kinds["context"]
    for key in ("incidentId", "workflowId", "threadContext", "params"):
        assert key in context and key in sample_context["context"], key
    assert set(sample_context["context"]["threadContext"]) <= set(context["threadContext"])
    assert context["workflowId"] == workflow_id and context["incidentId"] is None
    assert context["threadContext"]["tenant"] == tenant and context["threadContext"]["clientId"] == "tests"
    assert context["orderDetails"] == start_request["orderDetails"]
    assert context["info:viewResponse"] == resume_request["viewResponse"]
    assert context["child"]["workflowId"].startswith(f"{workflow_id}.child.")
    assert Run.objects.get(workflow_id=workflow_id).customer_id == start_request["customer"]["customerId"]
    assert api.delete(f"/v3/workflow/terminate/{workflow_id}").status_code == 200


def test_groovy_examples_load_after_import_drift_or_fail_precisely(api, tenant, tmp_path):
    kinds = classified_examples()
    for index, document in enumerate(kinds["groovy node"] + kinds["workflow"]):
        (tmp_path / f"{index:02d}_{document['id']}.json").write_text(json.dumps(document))
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 of 4 file"):
        call_command("import_drift", str(tmp_path), tenant=tenant, stdout=io.StringIO(), stderr=err)
    report = err.getvalue()
    # The GROOVY node builds `new Date().toString()`: reported at its JSON path, nothing saved.
    assert "prepare_data.json: NOT imported" in report
    assert "prepare_data.json:$.transformer.value.data: cannot translate Groovy: object construction (`new`)" in report
    assert api.get("/nodeDefinition/prepare_data?version=SNAPSHOT").status_code == 404
    for node_id in ("get_incident_status", "check_return_eligibility"):
        assert api.get(f"/nodeDefinition/{node_id}?version=SNAPSHOT").status_code == 200, node_id
    loaded = api.get("/workflowDefinition/sample_status_workflow?version=SNAPSHOT").json()
    states = loaded["states"]
    assert states["prepare_instruction_data"]["nodeDefinition"]["type"] == "SCRIPT"
    assert "?." not in json.dumps(loaded) and "[:]" not in json.dumps(loaded)
    assert api.post("/workflowDefinition/validate", loaded, format="json").json()["valid"] is True

    # The excerpt that loads a script file is refused precisely too.
    (fragment,) = [block for block in kinds["fragment"] if block.strip().startswith('"transformer"')]
    _, problems = translate_document(json.loads("{" + fragment + "}"))
    assert {(p.path, p.problem) for p in problems} >= {
        ("$.transformer.value.data", "cannot translate Groovy: object construction (`new`)"),
        ("$.transformer.value.data", "cannot translate Groovy: evaluate()")}


def test_complete_workflow_example_runs_after_import_drift(api, runs, tenant, tmp_path, httpserver, settings):
    """The original's "Complete Workflow Example", imported as it is, runs end to end: its HTTP node calls
    the incident service named in the enum store, its Groovy-built widget is the view, its disposition is set."""
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    (example,) = classified_examples()["workflow"]
    (tmp_path / "sample_status_workflow.json").write_text(json.dumps(example))
    out = io.StringIO()
    call_command("import_drift", str(tmp_path), tenant=tenant, activate=True, stdout=out, stderr=io.StringIO())
    assert "sample_status_workflow: ACTIVE = 1" in out.getvalue()
    host = f"{httpserver.host}:{httpserver.port}"
    assert api.put("/enumStore/ims", {"value": {"vip": host}}, format="json").status_code in (200, 201)
    httpserver.expect_request("/incidents/IN-98765", method="GET").respond_with_json(
        {"statusResponse": {"id": 219, "status": "Solved", "statusType": "RESOLVED"}})
    route_save(tenant=tenant, issue_id="289", workflow_key="sample_status_workflow", actor="tests")

    started = api.post("/v3/workflow/start", {"issueDetail": {"issueId": "289"},
                                              "params": {"incidentId": "IN-98765"}}, format="json")
    assert started.status_code == 200, started.json()
    body = started.json()
    assert (body["workflowStatus"], body["currentNode"], body["disposition"]) == (
        "WAITING", "show_status", "STATUS_DISPLAYED")
    assert body["view"]["inputOptions"] == [{
        "id": "asc_instruction", "description": "ASC instructions", "tags": {"values": ["ehc.static_text"]},
        "instructions": [{"templateId": "asc_instruction", "templateVariables": {"status_name": "Solved"}}]}]
    done = api.put(f"/v3/workflow/resume/{body['workflowId']}", {"viewResponse": {"selectedOptions": {}}},
                   format="json")
    assert (done.json()["workflowStatus"], done.json()["disposition"]) == ("COMPLETED", "STATUS_DISPLAYED")
    context = api.get(f"/v3/workflow/{body['workflowId']}?includeContext=true").json()["_global"]
    assert context["get_incident_status"]["statusName"] == "Solved"
