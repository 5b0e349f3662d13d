"""`assignment` on INSTRUCTION nodes: every wrong input is a 400 naming the field's JSON path, never a 500."""

from __future__ import annotations

import json

import pytest

from devtools.testing.builders import value

pytestmark = pytest.mark.django_db

GROUP = value("ops", "STATIC")


def _screen(assignment) -> dict:
    return {"id": "ask", "name": "ask", "type": "INSTRUCTION", "inputOptions": [], "assignment": assignment}


@pytest.mark.parametrize(("assignment", "bad_path"), [
    ("ops", "$.assignment"),
    ([], "$.assignment"),
    ({"group": {"name": "ops"}}, "$.assignment.group.type"),  # a bare literal (5, "ops") is a fixed group
    ({"group": {"type": "STATIC"}}, "$.assignment.group.value"),
    ({"group": value("return (", "SCRIPT")}, "$.assignment.group.value.data"),
    ({"user": {"type": "TELEPATHY", "value": {"type": "STRING", "data": "x"}}}, "$.assignment.user.type"),
    ({"group": GROUP, "dueInSeconds": "soon"}, "$.assignment.dueInSeconds"),
    ({"group": GROUP, "dueInSeconds": True}, "$.assignment.dueInSeconds"),
    ({"group": GROUP, "dueInSeconds": -5}, "$.assignment.dueInSeconds"),
    ({"group": GROUP, "dueInSeconds": 1e300}, "$.assignment.dueInSeconds"),
    ({"group": GROUP, "timeoutSeconds": 0, "timeoutNode": "late"}, "$.assignment.timeoutSeconds"),
    ({"group": GROUP, "timeoutNode": "late"}, "$.assignment.timeoutSeconds"),
    ({"group": GROUP, "timeoutSeconds": 60, "timeoutNode": 7}, "$.assignment.timeoutNode"),
    ({"group": GROUP, "escalation": {"afterSeconds": 5}}, "$.assignment.escalation"),
    ({"group": GROUP, "escalation": ["tier2"]}, "$.assignment.escalation[0]"),
    ({"group": GROUP, "escalation": [{"group": GROUP}]}, "$.assignment.escalation[0].afterSeconds"),
    ({"group": GROUP, "escalation": [{"afterSeconds": 60}]}, "$.assignment.escalation[0].group"),
    ({"group": GROUP, "escalation": [{"afterSeconds": 60, "group": GROUP, "queue": "x"}]},
     "$.assignment.escalation[0].queue"),
    ({"group": GROUP, "escalation": [{"afterSeconds": 60, "group": GROUP}] * 21}, "$.assignment.escalation"),
    ({"group": GROUP, "priority": "high"}, "$.assignment.priority"),
])
def test_bad_assignment_names_the_path(api, assignment, bad_path):
    response = api.post("/nodeDefinition/", _screen(assignment), format="json")
    assert response.status_code == 400, response.json()
    assert bad_path in [d["path"] for d in response.json()["details"]], response.json()


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_seconds_are_refused(api, raw):
    body = json.dumps(_screen({"group": GROUP, "dueInSeconds": 1})).replace(": 1}", f": {raw}}}")
    response = api.post("/nodeDefinition/", data=body, content_type="application/json")
    assert 400 <= response.status_code < 500, response.content


def test_lone_surrogate_and_deep_nesting_are_4xx(api):
    surrogate = json.dumps(_screen({"group": value("\ud800", "STATIC")}))
    assert 400 <= api.post("/nodeDefinition/", data=surrogate, content_type="application/json").status_code < 500
    deep = json.dumps(_screen({"group": GROUP})).replace('"ops"', "[" * 50_000 + "]" * 50_000)
    assert 400 <= api.post("/nodeDefinition/", data=deep, content_type="application/json").status_code < 500


def test_a_valid_assignment_saves(api):
    assignment = {"group": GROUP, "user": value("return _global.params.owner"), "dueInSeconds": 3600,
                  "escalation": [{"afterSeconds": 1800, "group": value("tier2", "STATIC")}],
                  "timeoutSeconds": 86_400, "timeoutNode": "late"}
    response = api.post("/nodeDefinition/", _screen(assignment), format="json")
    assert response.status_code in (200, 201), response.json()


def test_unknown_timeout_node_is_a_dangling_edge(api):
    screen = _screen({"group": GROUP, "timeoutSeconds": 60, "timeoutNode": "nowhere"})
    body = {"id": "w", "startNode": "ask", "states": {
        "ask": {"instanceName": "ask", "type": "NODE", "end": True, "nodeDefinition": screen}}}
    response = api.post("/workflowDefinition/", body, format="json")
    assert response.status_code == 400
    assert [d["path"] for d in response.json()["details"]] == ["$.states.ask.nodeDefinition.assignment.timeoutNode"]


def test_the_timeout_edge_is_on_the_graph():
    from apps.definitions.graph_render import labelled_edges

    screen = _screen({"group": GROUP, "timeoutSeconds": 60, "timeoutNode": "late"})
    definition = {"states": {"ask": {"nodeDefinition": screen, "nextNode": "done"}, "late": {"nextNode": "done"},
                             "done": {}}}
    assert ("ask", "late", "timeout") in labelled_edges(definition)
    assert ("ask", "done", "") in labelled_edges(definition)
