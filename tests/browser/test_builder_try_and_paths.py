"""The workflow builder beyond drawing (issue 22): "Try" a selected node and "Run tests" from inside it, a
finished run's path drawn on the same canvas on the run page, BRANCH choices added and removed, a state renamed
with every reference, a MAP's item flow drawn as an edge, and "edit" going to the node definition's page."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from apps.definitions.cache import definition_cache
from apps.definitions.models import SNAPSHOT, Definition, DefinitionVersion, Kind, NodeDefinition, WorkflowDefinition
from apps.runs.models import Run
from devtools.testing import trial_flows
from devtools.testing.browser import PASSWORD, admin_login, connect
from devtools.testing.builders import branch_node, script_node, success_node
from devtools.testing.definitions import publish_definitions

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(page):
    page.set_viewport_size({"width": 1800, "height": 1200})
    return page


def snapshot(tenant: str, body: dict) -> int:
    definition = Definition.objects.create(tenant=tenant, kind=Kind.WORKFLOW, key=body["id"])
    DefinitionVersion.objects.create(definition=definition, version=SNAPSHOT, body={**body, "version": "SNAPSHOT"})
    return definition.pk


def select(page, name: str) -> None:
    page.click(f"[data-testid='rf__node-{name}'] .drift-node-title")
    page.wait_for_selector(f".drift-panel[data-panel=state] h3:has-text('{name}')")


def steps_of(page, scope: str) -> dict[str, str]:
    """The path drawn on the canvas: each marked state's step numbers."""
    return page.evaluate("""(scope) => Object.fromEntries([...document.querySelectorAll(`${scope} .drift-node-steps`)]
        .map((n) => [n.closest('.react-flow__node').dataset.id, n.dataset.steps]))""", scope)


def document(page) -> dict:
    return json.loads(page.input_value("#id_document"))


def test_try_a_selected_node_and_edit_its_definition(page, screenshot, live_server, tenant):
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    publish_definitions(tenant, [script_node("double", "return {'total': nodeParameters['price'] * 2}",
                                             parameters=["price"]), success_node("done")], [])
    pk = snapshot(tenant, {"id": "tried", "startNode": "calc", "states": {
        "calc": {"instanceName": "calc", "resourceId": "double", "resourceVersion": "LATEST",
                 "parameters": {"price": "$.params.price"}, "nextNode": "done"},
        "done": {"instanceName": "done", "resourceId": "done"}}})
    admin_login(page, live_server.url)
    page.goto(f"{live_server.url}/admin/definitions/workflowdefinition/{pk}/change/")
    select(page, "calc")

    # The state's parameter mapping is resolved against the sample context, as the engine would.
    page.fill("textarea[name=try-context]", json.dumps({"params": {"price": 21}}))
    page.click("[data-builder=try-run]")
    page.wait_for_function("!document.querySelector('[data-builder=try-status]').textContent.startsWith('Running')")
    status = page.locator("[data-builder=try-status]").inner_text()
    assert status == "OK: SCRIPT node double (version 1)", status
    assert json.loads(page.locator("[data-builder=try-result]").inner_text())["outcome"] == {"output": {"total": 42}}
    screenshot("builder-10-try-node", element=".drift-builder-frame")

    page.fill("textarea[name=try-context]", json.dumps({"params": {}}))
    page.click("[data-builder=try-run]")
    page.wait_for_function("document.querySelector('[data-builder=try-status]').textContent.startsWith('Failed')")
    page.fill("textarea[name=try-context]", "{not json")
    page.click("[data-builder=try-run]")
    expect(page.locator("[data-builder=try-status]")).to_contain_text("Context is not valid JSON")

    # "edit" opens the node definition's own change page.
    node_pk = NodeDefinition.objects.get(tenant=tenant, key="double").pk
    assert page.get_attribute("[data-builder=edit-node]", "href") == \
        f"/admin/definitions/nodedefinition/{node_pk}/change/"


def test_choices_rename_and_map_item_flow(page, screenshot, live_server, tenant):
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    pick = branch_node("pick", [("return _global.params.n > 1", "note"), ("return True", "done")])
    publish_definitions(tenant, [pick, script_node("noter", "return 1"), success_node("done")], [])
    pk = snapshot(tenant, {"id": "shaped", "startNode": "lines", "x-kept": [1.5, {"a": 1}], "states": {
        "lines": {"instanceName": "lines", "type": "MAP", "items": "$.params.items", "nextNode": "decide",
                  "iterator": {"workflowId": "line_flow", "version": "ACTIVE"}},
        "decide": {"instanceName": "decide", "resourceId": "pick"},
        "note": {"instanceName": "note", "resourceId": "noter", "nextNode": "done"},
        "done": {"instanceName": "done", "resourceId": "done"}}})
    admin_login(page, live_server.url)
    page.goto(f"{live_server.url}/admin/definitions/workflowdefinition/{pk}/change/")

    # The MAP's item flow: an edge to its iterator workflow, drawn beside it.
    page.locator("[data-testid='rf__edge-lines|items']").wait_for()
    expect(page.locator("[data-testid='rf__node-@items:lines']")).to_contain_text("line_flow")

    # A third choice, by dragging from "+ choice"; the state gets its own copy of the node with it.
    connect(page, "decide", "choice:new", "note", edge="choice:2")
    choices = document(page)["states"]["decide"]["nodeDefinition"]["choices"]
    assert [c["nextNode"] for c in choices] == ["note", "done", "note"]
    assert choices[2]["rule"] == {"type": "SCRIPT", "value": {"type": "STRING", "data": "return False"}}
    select(page, "decide")
    page.fill("input[name=choice-2-rule]", "return _global.params.n == 0")
    page.press("input[name=choice-2-rule]", "Enter")
    page.wait_for_function("document.getElementById('id_document').value.includes('params.n == 0')")
    screenshot("builder-11-choice-added", element=".drift-builder-frame")

    # Removing choice #1: the others stay, in order.
    page.click("[data-builder=remove-choice-0]")
    page.locator("[data-testid='rf__edge-decide|choice:2']").wait_for(state="detached")
    choices = document(page)["states"]["decide"]["nodeDefinition"]["choices"]
    assert [(c["nextNode"], c["rule"]["value"]["data"]) for c in choices] == [
        ("done", "return True"), ("note", "return _global.params.n == 0")]

    # Renaming: the key, instanceName and every reference change; no other byte does.
    page.click("[data-builder=layout]")  # positions stored too: renamed as well
    page.wait_for_function("document.getElementById('id_document').value.includes('\"positions\"')")
    before = page.input_value("#id_document")
    select(page, "decide")
    page.fill("input[name=state-name]", "route")
    page.press("input[name=state-name]", "Enter")
    page.locator("[data-testid='rf__node-route']").wait_for()
    after = page.input_value("#id_document")
    assert after == before.replace('"decide"', '"route"'), after
    renamed = json.loads(after)
    assert renamed["states"]["lines"]["nextNode"] == "route" and "route" in renamed["canvas"]["positions"]
    assert renamed["x-kept"] == [1.5, {"a": 1}]
    page.locator("[data-testid='rf__edge-lines|next']").wait_for()
    screenshot("builder-12-renamed", element=".drift-builder-frame")


@pytest.mark.temporal
def test_run_tests_from_the_builder_and_a_runs_path_on_the_canvas(page, screenshot, live_server, runs, tenant,
                                                                     httpserver, settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    httpserver.expect_request("/orders/5").respond_with_json({"amount": 40})
    definition_cache.clear()
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    publish_definitions(tenant, trial_flows.nodes(httpserver.url_for("").rstrip("/")),
                        [trial_flows.refund(trial_flows.cases())])
    admin_login(page, live_server.url)

    # --- "Run tests" in the builder: each case listed; a case's path drawn on the canvas
    pk = WorkflowDefinition.objects.get(tenant=tenant, key="refund").pk
    page.goto(f"{live_server.url}/admin/definitions/workflowdefinition/{pk}/change/")
    page.click("[data-builder=run-tests]")
    page.wait_for_function("document.querySelector('[data-builder=tests-summary]').textContent.startsWith('PASSED')")
    assert page.locator("[data-builder=tests-summary]").inner_text().startswith("PASSED: 3 case(s) of the SNAPSHOT")
    page.click("[data-case='a reviewed refund cools off for two days, then completes']")
    page.locator(".drift-builder-frame .drift-node-steps").first.wait_for()  # the case's path is drawn on click
    steps = steps_of(page, ".drift-builder-frame")
    assert steps == {"fetch": "1", "decide": "2", "review": "3", "pause": "4", "done": "5"}, steps
    screenshot("builder-13-run-tests", element=".drift-builder-frame")

    # --- a finished run: its path on the canvas of the run page, the graph picture still below
    finished = runs.start("refund", {"orderId": 5})
    assert finished["workflowStatus"] == "COMPLETED", finished
    run = Run.objects.get(workflow_id=finished["workflowId"])
    page.goto(f"{live_server.url}/admin/runs/run/{run.pk}/change/")
    page.locator(".drift-path-canvas .drift-node-steps").first.wait_for()
    steps = steps_of(page, ".drift-path-canvas")
    assert steps == {"fetch": "1", "decide": "2", "auto": "3", "done": "4"}, steps
    taken = sorted(page.evaluate("""() => [...document.querySelectorAll('.drift-path-canvas .drift-edge-path')]
        .map((e) => e.closest('.react-flow__edge').dataset.testid)"""))
    assert taken == ["rf__edge-@start|start", "rf__edge-auto|next", "rf__edge-decide|default",
                     "rf__edge-fetch|next"], taken
    assert page.locator(".drift-path-canvas .react-flow__handle.connectable").count() == 0  # read-only
    assert page.locator(".drift-graph svg").count() == 1  # the graphviz picture: the fallback
    screenshot("builder-14-run-path", element=".drift-path-canvas")
