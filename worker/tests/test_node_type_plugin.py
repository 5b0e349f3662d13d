"""A new node type is one module plus one registry line: the validator, the graph pictures, the workflow
(local activity, disconnected runs) and the timeline take it with nothing else changed. PICK is the family that
computes an output; the remote, suspending and state-type families are in test_plugin_families.py."""

from __future__ import annotations

import pytest

from apps.definitions import dsl, graph
from apps.definitions.graph_render import labelled_edges, workflow_dot
from apps.nodes import registry
from apps.runs.contract import UPDATE_DISCONNECTED, UPDATE_TERMINATE
from apps.runs.models import NodeExecution
from devtools.testing.builders import state, success_node, wait_node, workflow
from devtools.testing.definitions import publish_definitions
from worker.tests import pick_type, plugins

pytestmark = pytest.mark.temporal


@pytest.fixture
def pick():
    with plugins.node_type(pick_type):  # the one registry line
        yield pick_type.NODE_TYPE


def _pick_node(**extra) -> dict:
    return {"id": "pick", "type": "PICK", "key": "$.params.colour", "routes": {"red": "stop", "green": "go"},
            "otherwise": "hold", **extra}


def _flow() -> dict:
    return workflow("lights", "p", [
        state("p", "pick"), state("stop", "done"), state("go", "done"), state("hold", "hold", "stop"),
        state("probe", "pick"),  # no edge reaches it: a disconnected node
    ])


def test_unknown_without_its_registry_line():
    assert [p.path for p in registry.validate_node_definition(_pick_node(), "$")] == ["$.type"]


def test_validator_and_graph_ask_the_new_type(pick):
    assert registry.validate_node_definition(_pick_node(), "$") == []
    assert [p.path for p in registry.validate_node_definition(_pick_node(key=3, routes=[]), "$")] == [
        "$.key", "$.routes"]
    inline = workflow("w", "p", [
        {"instanceName": "p", "type": "NODE", "nodeDefinition": {**_pick_node(), "otherwise": "nowhere"}},
        {"instanceName": "stop", "type": "NODE", "nodeDefinition": success_node("stop")},
        {"instanceName": "go", "type": "NODE", "nodeDefinition": success_node("go")},
    ])
    problems = dsl.errors_of(dsl.validate_workflow(inline, lambda *_: None))
    assert [(p.path, p.problem) for p in problems] == [
        ("$.states.p.nodeDefinition.otherwise", "unknown state 'nowhere'")]
    fixed = {**inline, "states": {**inline["states"], "p": {**inline["states"]["p"],
                                                            "nodeDefinition": {**_pick_node(), "otherwise": "go"}}}}
    assert graph.state_targets(fixed["states"]["p"]) == ["stop", "go", "go"]
    assert ("p", "go", "green, otherwise") in labelled_edges(fixed)
    assert 'shape=cds' in workflow_dot(fixed)


def test_the_new_type_runs_end_to_end(pick, runs, tenant):
    hold = wait_node("hold", waitType="ON_EVENT", eventName="never")
    publish_definitions(tenant, [_pick_node(), success_node("done"), hold], [_flow()])
    for colour, taken in (("green", "go"), ("red", "stop")):
        response = runs.start("lights", {"colour": colour})
        assert response["workflowStatus"] == "COMPLETED", response
        rows = NodeExecution.objects.filter(run__workflow_id=response["workflowId"]).order_by("seq")
        assert list(rows.values_list("instance_name", "node_type", "outcome")) == [
            ("p", "PICK", "SUCCESS"), (taken, "SUCCESS", "SUCCESS")]
        assert runs.result(response["workflowId"])["output"]["p"] == {"picked": colour}
    waiting = runs.start("lights", {"colour": "blue"})  # otherwise: the `hold` wait
    assert (waiting["workflowStatus"], waiting["currentNode"]) == ("WAITING", "hold")
    # `disconnectable` on the type: the utility endpoint runs it against the run's context.
    reply = runs.update(waiting["workflowId"], UPDATE_DISCONNECTED, {"node": "probe"})
    assert (reply["status"], reply["response"]) == ("SUCCESS", {"picked": "blue"})
    assert runs.update(waiting["workflowId"], UPDATE_TERMINATE, "done")["workflowStatus"] == "TERMINATED"
