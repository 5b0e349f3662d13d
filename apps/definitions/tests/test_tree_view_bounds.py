"""Issue 8.8: drawing a workflow is bounded (size limit, Graphviz timeout, cache), so it cannot hold API threads."""

from __future__ import annotations

import pytest

from apps.definitions.graph_render import GraphRenderError, render_dot
from devtools.testing.builders import script_node, state, success_node, workflow
from devtools.testing.definitions import publish_definitions


@pytest.fixture
def chain(db) -> str:
    """A workflow of 12 states in a line."""
    states = [state(f"s{i}", "step", f"s{i + 1}") for i in range(11)] + [state("s11", "ok")]
    publish_definitions("acme", [script_node("step", "return 1"), success_node("ok")],
                        [workflow("chain", "s0", states)])
    return "chain"


def test_a_workflow_over_the_state_limit_is_refused_not_drawn(api, chain, settings):
    settings.DRIFT_GRAPH_MAX_STATES = 10
    response = api.get("/workflowDefinition/treeView/chain")
    assert response.status_code == 422, response.content
    assert response.json()["error"] == "TOO_LARGE" and "12 states" in response.json()["message"]


def test_a_description_over_the_byte_limit_is_refused(api, chain, settings):
    settings.DRIFT_GRAPH_MAX_DOT_BYTES = 500
    response = api.get("/workflowDefinition/treeView/chain", {"format": "svg"})
    assert response.status_code == 422, response.content


def test_pictures_are_cached_by_their_description(api, chain, monkeypatch):
    first = api.get("/workflowDefinition/treeView/chain", {"format": "svg"})
    assert first.status_code == 200
    monkeypatch.setenv("PATH", "/nonexistent")  # no Graphviz any more: only the cache can answer
    again = api.get("/workflowDefinition/treeView/chain", {"format": "svg"})
    assert again.status_code == 200 and again.content == first.content
    assert api.get("/workflowDefinition/treeView/chain", {"format": "png"}).status_code == 503  # never drawn


def test_graphviz_is_stopped_at_its_timeout(settings):
    wide = "digraph g {" + " ".join(f"n{i} -> n{(i * 7919) % 3000};" for i in range(3000)) + "}"
    settings.DRIFT_GRAPH_MAX_DOT_BYTES = 10**6
    with pytest.raises(GraphRenderError, match="longer than 0.05 s"):
        render_dot(wide, "png", timeout=0.05)
