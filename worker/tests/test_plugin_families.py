"""Issue 20: a new node type of every family, and a new state type, are each one module plus one registry line
(worker/tests/plugins.py), and run end to end on the real stack: the DSL validator, the worker (production and
test runs), dry-runs and test cases made from finished runs take them with nothing else changed. The family that
computes an output is PICK (test_node_type_plugin.py); here: QUOTE (remote, with mocks), APPROVAL (suspends the
run until resumed) and the TALLY state type."""

from __future__ import annotations

import pytest

from apps.definitions import dsl
from apps.definitions.graph_render import workflow_dot
from apps.definitions.models import DefinitionKind
from apps.definitions.services import definition_save_snapshot
from apps.runs.contract import ACTIVITY_EXECUTE_NODE, UPDATE_RESUME
from apps.runs.models import NodeExecution, Run
from apps.trials.from_run import case_from_run
from devtools.testing.builders import branch_node, failure_node, state, success_node, workflow
from devtools.testing.definitions import publish_definitions
from drift.temporal import run_async
from worker.replay import replay_histories
from worker.tests import approval_type, plugins, quote_type, tally_state

pytestmark = [pytest.mark.temporal, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def quote():
    with plugins.node_type(quote_type):
        yield


@pytest.fixture
def approval():
    with plugins.node_type(approval_type):
        yield


@pytest.fixture
def tally():
    with plugins.state_type(tally_state):
        yield


def _steps(workflow_id: str) -> list[tuple[str, str, str]]:
    rows = NodeExecution.objects.filter(run__workflow_id=workflow_id).order_by("seq")
    return list(rows.values_list("instance_name", "node_type", "outcome"))


def _history(runs, workflow_id: str):
    return run_async(runs.client.get_workflow_handle(workflow_id).fetch_history())


def _replays(runs, workflow_id: str) -> None:
    """The run replays with its types registered (the session's closing replay re-registers them too)."""
    report = run_async(replay_histories([_history(runs, workflow_id)]))
    assert report.ok, [outcome.error for outcome in report.failures]


def _test_report(api, tenant: str, body: dict, cases: list[dict]) -> dict:
    definition_save_snapshot(tenant=tenant, kind=DefinitionKind.WORKFLOW, body={**body, "tests": cases},
                             actor="tests", create=False)
    response = api.post(f"/workflowDefinition/{body['id']}/test?version=SNAPSHOT")
    assert response.status_code == 200, response.json()
    return response.json()


# --- remote, with mocks: QUOTE


def _quote_node(url: str) -> dict:
    return {"id": "quote", "name": "quote", "type": "QUOTE", "url": url, "symbol": "$.params.symbol"}


def test_a_remote_type_runs_is_mocked_and_dry_runs(quote, api, runs, tenant, httpserver, settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    httpserver.expect_request("/quote", query_string="symbol=ACME").respond_with_json({"price": 12.5})
    body = workflow("pricing", "q", [state("q", "quote", "done"), state("done", "done")])
    publish_definitions(tenant, [_quote_node(httpserver.url_for("/quote")), success_node("done")], [body])

    # production: a local activity (a short remote node, engine level 3), or with local nodes switched off a
    # regular one, that calls the service
    for local_seconds, activities in ((30, []), (0, [ACTIVITY_EXECUTE_NODE])):
        settings.DRIFT_LOCAL_NODE_MAX_SECONDS = local_seconds
        started = runs.start("pricing", {"symbol": "ACME"})
        assert started["workflowStatus"] == "COMPLETED", started
        assert runs.result(started["workflowId"])["output"]["q"] == {"symbol": "ACME", "price": 12.5}
        assert _steps(started["workflowId"]) == [("q", "QUOTE", "SUCCESS"), ("done", "SUCCESS", "SUCCESS")]
        scheduled = [event.activity_task_scheduled_event_attributes.activity_type.name
                     for event in _history(runs, started["workflowId"]).events
                     if event.HasField("activity_task_scheduled_event_attributes")]
        assert scheduled == activities
        _replays(runs, started["workflowId"])

    # a finished run becomes a case: the remote call is mocked with its output (must_mock)
    case = case_from_run(Run.objects.get(workflow_id=started["workflowId"]))
    assert case["mocks"] == {"q": [{"output": {"symbol": "ACME", "price": 12.5}}]}

    # test runs: response mocks go through the type's own `call` (parsed as a real answer); no case calls out
    cases = [case,
             {"name": "mocked 3", "start": {"params": {"symbol": "X"}}, "mocks": {"q": [{"status": 200,
                                                                                        "body": {"price": 3}}]},
              "expect": {"status": "COMPLETED", "context": {"q.price": 3, "q.symbol": "X"}}},
             {"name": "down", "start": {"params": {"symbol": "X"}}, "mocks": {"q": [{"status": 503, "body": ""}]},
              "expect": {"status": "FAILED"}},
             {"name": "unmocked", "start": {"params": {"symbol": "X"}}, "expect": {"status": "COMPLETED"}}]
    report = _test_report(api, tenant, body, cases)
    assert [(c["name"], c["passed"]) for c in report["cases"]] == [
        (case["name"], True), ("mocked 3", True), ("down", True), ("unmocked", False)], report
    assert "QUOTE node q has no mock" in report["cases"][3]["failure"]
    assert len(httpserver.log) == 2  # the production runs' calls only

    # dry-run: traced through the same `call`, mocked or real
    mocked = api.post("/nodeDefinition/quote/dryRun", {"context": {"params": {"symbol": "Z"}},
                                                       "mock": {"status": 200, "body": {"price": 7}}},
                      format="json").json()
    assert (mocked["ok"], mocked["outcome"], mocked["response"]["mocked"]) == (
        True, {"output": {"symbol": "Z", "price": 7}}, True), mocked
    real = api.post("/nodeDefinition/quote/dryRun", {"context": {"params": {"symbol": "ACME"}}},
                    format="json").json()
    assert (real["ok"], real["response"]["status"], real["request"]["params"]) == (True, 200, {"symbol": "ACME"})
    assert len(httpserver.log) == 3


def test_a_type_without_a_call_takes_no_response_mock(api, tenant):
    publish_definitions(tenant, [success_node("done")], [])
    refused = api.post("/nodeDefinition/done/dryRun", {"mock": {"status": 200}}, format="json")
    assert refused.status_code == 400 and refused.json()["details"] == [
        {"path": "$.mock", "problem": "a SUCCESS node makes no call to mock"}]


# --- suspends the run until resumed: APPROVAL


def test_a_suspending_type_waits_for_its_resume_and_becomes_a_case(approval, api, runs, tenant):
    nodes = [{"id": "approve", "name": "approve", "type": "APPROVAL", "question": "Refund {{params.amount}}?"},
             branch_node("decide", [("return _global['approve:viewResponse'].decision == 'APPROVE'", "paid")],
                         "refused"),
             success_node("paid"), failure_node("refused", "not approved")]
    body = workflow("refund_approval", "approve", [
        state("approve", "approve", "decide"), state("decide", "decide"), state("paid", "paid"),
        state("refused", "refused")])
    publish_definitions(tenant, nodes, [body])

    started = runs.start("refund_approval", {"amount": 40})
    assert (started["workflowStatus"], started["currentNode"]) == ("WAITING", "approve"), started
    assert started["view"]["question"] == "Refund 40?"
    resumed = runs.update(started["workflowId"], UPDATE_RESUME,
                          {"viewResponse": {"decision": "APPROVE"}, "resumedBy": "ann"})
    assert resumed["workflowStatus"] == "COMPLETED", resumed
    assert _steps(started["workflowId"]) == [("approve", "APPROVAL", "SUCCESS"), ("approve", "APPROVAL", "RESUMED"),
                                             ("decide", "BRANCH", "SUCCESS"), ("paid", "SUCCESS", "SUCCESS")]
    _replays(runs, started["workflowId"])

    # the type's `as_case` gives the answer back as a resume; test mode feeds it to the screen
    case = case_from_run(Run.objects.get(workflow_id=started["workflowId"]))
    assert (case["resumes"], "mocks" in case) == ([{"decision": "APPROVE"}], False)
    rejected = {"name": "rejected", "start": {"params": {"amount": 5}}, "resumes": [{"decision": "REJECT"}],
                "expect": {"status": "FAILED", "path": ["approve", "decide", "refused"]}}
    pending = {"name": "no answer yet", "start": {"params": {"amount": 5}}, "expect": {"status": "WAITING"}}
    report = _test_report(api, tenant, body, [case, rejected, pending])
    assert [(c["name"], c["passed"]) for c in report["cases"]] == [
        (case["name"], True), ("rejected", True), ("no answer yet", True)], report


def test_a_suspending_type_declares_it_cannot_run_in_a_branch(approval):
    inline = workflow("w", "p", [
        {"instanceName": "p", "type": "PARALLEL", "branches": [{"name": "a", "startNode": "approve"},
                                                               {"name": "b", "startNode": "done"}]},
        {"instanceName": "approve", "type": "NODE",
         "nodeDefinition": {"id": "approve", "type": "APPROVAL", "question": "ok?"}},
        {"instanceName": "done", "type": "NODE", "nodeDefinition": success_node("done")},
    ])
    problems = dsl.errors_of(dsl.validate_workflow(inline, lambda *_: None))
    assert any("APPROVAL" in p.problem for p in problems), problems


# --- a state type: TALLY


def test_a_state_type_validates_draws_and_runs(tally, api, runs, tenant):
    tally_state_body = {"instanceName": "t", "type": "TALLY", "values": "$.params.scores", "nextNode": "done"}
    body = workflow("scores", "t", [tally_state_body, state("done", "done"), state("failed", "failed")],
                    defaultFailureNode="failed")
    bad = {**body, "states": {**body["states"], "t": {**tally_state_body, "values": 3}}}
    problems = dsl.errors_of(dsl.validate_workflow(bad, lambda *_: None))  # (its nodes are published below)
    assert [(p.path, p.problem) for p in problems if p.path.startswith("$.states.t.")] == [
        ("$.states.t.values", "must be a $.path to a list of numbers")]
    dot = workflow_dot(body)
    assert "shape=cylinder" in dot and "TALLY of $.params.scores" in dot
    publish_definitions(tenant, [success_node("done"), failure_node("failed", "bad scores")], [body])

    started = runs.start("scores", {"scores": [3, 4, 5]})
    assert started["workflowStatus"] == "COMPLETED", started
    assert runs.result(started["workflowId"])["output"]["t"] == {"count": 3, "total": 12}
    assert _steps(started["workflowId"]) == [("t", "TALLY", "SUCCESS"), ("done", "SUCCESS", "SUCCESS")]
    assert not [event for event in _history(runs, started["workflowId"]).events  # computed in the workflow
                if event.HasField("activity_task_scheduled_event_attributes")]
    _replays(runs, started["workflowId"])

    failed = runs.start("scores", {"scores": "many"})  # the state fails: defaultFailureNode takes over
    assert failed["workflowStatus"] == "FAILED", failed
    assert failed["errorMessage"] == "bad scores: TALLY t: $.params.scores is not a list of numbers"
    _replays(runs, failed["workflowId"])

    # the same state in a test run (waits skipped, nothing persisted)
    report = _test_report(api, tenant, body, [{"name": "sum", "start": {"params": {"scores": [1, 2]}},
                                               "expect": {"status": "COMPLETED", "context": {"t.total": 3}}}])
    assert report["passed"] is True, report


def test_without_its_registry_line_a_state_type_is_unknown():
    body = workflow("scores", "t", [{"instanceName": "t", "type": "TALLY", "values": "$.x"}])
    problems = dsl.errors_of(dsl.validate_workflow(body, lambda *_: None))
    assert ("$.states.t.type", "unknown state type; one of NODE, PARALLEL, MAP") in [
        (p.path, p.problem) for p in problems]
