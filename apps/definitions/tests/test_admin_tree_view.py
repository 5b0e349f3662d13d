"""`GET /workflowDefinition/treeView/{id}` and the Graphviz renderer behind it and the admin pictures."""

from __future__ import annotations

import re
import subprocess

import pytest

from apps.definitions.graph_render import dot_quote, render_workflow, workflow_dot
from devtools.testing.builders import branch_node, script_node, state, success_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.tenancy import key_client

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def published(db) -> str:
    publish_definitions(
        "acme",
        [script_node("fetch", "return 1"), branch_node("route", [("return True", "done")], default="done"),
         success_node("ok")],
        [workflow("refund", "fetch", [state("fetch", "fetch", "decide"), state("decide", "route"),
                                      state("done", "ok"), state("orphan", "fetch")])],
    )
    return "refund"


def test_png_by_default(api, published):
    response = api.get("/workflowDefinition/treeView/refund")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(PNG_MAGIC)


def test_svg_with_version(api, published):
    response = api.get("/workflowDefinition/treeView/refund", {"format": "svg", "version": "1"})
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    svg = response.content.decode()
    assert "<svg" in svg and "decide" in svg and "BRANCH" in svg and "default" in svg and "disconnected" in svg


def test_errors(api, published):
    assert api.get("/workflowDefinition/treeView/refund", {"format": "gif"}).status_code == 400
    assert api.get("/workflowDefinition/treeView/refund", {"version": "nope"}).status_code == 400
    assert api.get("/workflowDefinition/treeView/refund", {"version": "7"}).status_code == 404
    assert api.get("/workflowDefinition/treeView/missing").status_code == 404
    other = key_client("globex", ["definitions"])
    assert other.get("/workflowDefinition/treeView/refund").status_code == 404  # another tenant's
    runtime_only = key_client("acme", ["runtime"])
    assert runtime_only.get("/workflowDefinition/treeView/refund").status_code == 403


def test_a_workflow_named_like_a_route_suffix_is_not_shadowed(api, db):
    publish_definitions("acme", [success_node("ok")], [workflow("versions", "done", [state("done", "ok")])])
    response = api.get("/workflowDefinition/treeView/versions", {"format": "svg"})
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"


HOSTILE = 'x"];\nevil [label="pwned"]; x -> evil; //\\'


def test_user_names_cannot_inject_dot():
    definition = {"startNode": HOSTILE, "states": {
        HOSTILE: {"instanceName": HOSTILE, "nextNode": "b<script>", "nodeDefinition": {"type": 'A"B\\'}},
        "b<script>": {"instanceName": "b", "nodeDefinition": {"type": "SUCCESS"}},
    }}
    dot = workflow_dot(definition, path=[HOSTILE, "b<script>"])
    # the only statements are the generated ids: n0, n1 and the start marker
    statements = [line.strip() for line in dot.splitlines()[4:-1]]
    assert all(s.split(" ", 1)[0] in {"start", "n0", "n1"} for s in statements), statements
    canon = subprocess.run(["dot", "-Tcanon"], input=dot.encode(), capture_output=True, check=True).stdout.decode()
    # Graphviz itself sees three nodes and two edges: the hostile text stayed inside a label
    nodes = set(re.findall(r"^\t(\w+)\s*\[", canon, re.M)) - {"graph", "node", "edge"}
    assert sorted(nodes) == ["n0", "n1", "start"]
    assert sorted(re.findall(r"^\t(\w+ -> \w+)", canon, re.M)) == ["n0 -> n1", "start -> n0"]
    svg = render_workflow(definition, "svg").decode()
    assert "<script" not in svg and "&lt;script&gt;" in svg


def test_dot_quote_escapes():
    assert dot_quote('a"b') == '"a\\"b"'
    assert dot_quote("a\\") == '"a\\\\"'
    assert dot_quote("line\nbreak") == '"line\\nbreak"'
    assert len(dot_quote("x" * 500)) < 70


def test_path_highlights_traversed_edges_and_jumps():
    definition = {"startNode": "a", "defaultFailureNode": "f", "states": {
        "a": {"nextNode": "b", "nodeDefinition": {"type": "SCRIPT"}},
        "b": {"nextNode": None, "nodeDefinition": {"type": "HTTP"}},
        "f": {"nodeDefinition": {"type": "FAILURE"}},
    }}
    dot = workflow_dot(definition, path=["a", "b", "f"])
    assert 'n0 -> n1 [color="#1565c0", penwidth=3]' in dot
    assert "n1 -> n2 [style=dashed" in dot  # the jump to the failure node
    assert 'xlabel="step 3"' in dot
