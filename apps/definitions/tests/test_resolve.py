from collections import Counter

import pytest

from apps.definitions import selectors, services
from apps.definitions.models import Kind
from apps.definitions.routing import StableHashABProvider
from drift.errors import InvalidInput, NotFound

T = "acme"
SCRIPT = {"id": "calc", "name": "calc", "type": "SCRIPT", "parameters": ["n"],
          "transformer": {"type": "SCRIPT", "value": {"type": "STRING", "data": "return nodeParameters.n"}}}
DONE = {"id": "done", "name": "done", "type": "SUCCESS"}


def flow(key: str, node_version="LATEST") -> dict:
    return {"id": key, "startNode": "c", "states": {
        "c": {"instanceName": "c", "resourceId": "calc", "resourceVersion": node_version, "parameters": {"n": 1},
              "nextNode": "d"},
        "d": {"instanceName": "d", "resourceId": "done", "end": True},
    }}


def sync(kind, body, activate=True):
    return services.definition_sync(tenant=T, kind=kind, body=body, actor="t", activate=activate)


@pytest.fixture
def published(db):
    sync(Kind.NODE, SCRIPT)
    sync(Kind.NODE, DONE)
    sync(Kind.WORKFLOW, flow("a"))
    sync(Kind.WORKFLOW, flow("b"))


def test_resolve_pins_node_versions_and_ignores_later_node_changes(published):
    first = selectors.workflow_resolve_for_run(tenant=T, workflow_key="a")
    assert first["definition"]["states"]["c"]["resourceVersion"] == 1
    assert first["definition"]["states"]["d"]["nodeDefinition"]["type"] == "SUCCESS"
    sync(Kind.NODE, {**SCRIPT, "name": "changed"}, activate=False)  # calc v2, LATEST moves
    again = selectors.workflow_resolve_for_run(tenant=T, workflow_key="a", version=1)
    assert again["definition"]["states"]["c"]["resourceVersion"] == 2
    assert again["definition"]["states"]["c"]["nodeDefinition"]["name"] == "changed"


def test_resolving_leaves_the_cached_documents_as_they_were(published):
    """The resolve reads the cache's documents without copying them: it writes only into states of its own."""
    for _ in range(2):  # the second resolve reads what the first one cached
        resolved = selectors.workflow_resolve_for_run(tenant=T, workflow_key="a")
        assert resolved["definition"]["states"]["c"]["resourceVersion"] == 1
    cached = selectors.definition_get(tenant=T, kind=Kind.WORKFLOW, key="a", shared=True)
    assert cached["states"]["c"] == flow("a")["states"]["c"]
    assert "nodeDefinition" not in cached["states"]["d"]


def test_resolve_defaults_to_active_and_falls_back_to_latest(published):
    services.definition_save_snapshot(tenant=T, kind=Kind.WORKFLOW, body={**flow("a"), "comment": "2"},
                                      actor="t", create=False)
    services.definition_publish(tenant=T, kind=Kind.WORKFLOW, key="a", actor="t")
    assert selectors.workflow_resolve_for_run(tenant=T, workflow_key="a")["version"] == 1  # ACTIVE
    assert selectors.workflow_resolve_for_run(tenant=T, workflow_key="a", version="LATEST")["version"] == 2
    sync(Kind.WORKFLOW, flow("fresh"), activate=False)
    assert selectors.workflow_resolve_for_run(tenant=T, workflow_key="fresh")["version"] == 1


def test_resolve_errors(published):
    with pytest.raises(NotFound):
        selectors.workflow_resolve_for_run(tenant=T, workflow_key="ghost")
    with pytest.raises(NotFound):
        selectors.workflow_resolve_for_run(tenant=T, workflow_key="a", version=9)
    with pytest.raises(NotFound):
        selectors.workflow_resolve_for_run(tenant=T, issue_id="no-route")
    with pytest.raises(NotFound):
        selectors.workflow_resolve_for_run(tenant="other", workflow_key="a")
    with pytest.raises(InvalidInput):
        selectors.workflow_resolve_for_run(tenant=T, workflow_key="a", version="SNAPSHOT")
    with pytest.raises(InvalidInput):
        selectors.workflow_resolve_for_run(tenant=T)


def test_route_ab_variants_are_stable_and_weighted(published):
    services.route_save(tenant=T, issue_id="i", workflow_key="a", actor="t",
                        variants=[{"workflowId": "a", "weight": 3}, {"workflowId": "b", "weight": 1}])
    picks = Counter(
        selectors.workflow_resolve_for_run(tenant=T, issue_id="i", bucket_key=f"c{n}")["id"] for n in range(400)
    )
    assert picks.keys() == {"a", "b"} and 240 < picks["a"] < 360
    assert {selectors.workflow_resolve_for_run(tenant=T, issue_id="i", bucket_key="c7")["id"] for _ in range(5)} \
        == {selectors.workflow_resolve_for_run(tenant=T, issue_id="i", bucket_key="c7")["id"]}
    services.route_save(tenant=T, issue_id="i", workflow_key="b", actor="t")  # variants removed: cache dropped
    assert selectors.workflow_resolve_for_run(tenant=T, issue_id="i", bucket_key="c1")["id"] == "b"


def test_stable_hash_provider_is_deterministic():
    variants = [{"workflowId": "a", "version": "ACTIVE", "weight": 1}, {"workflowId": "b", "version": "1", "weight": 0}]
    provider = StableHashABProvider()
    assert {provider.choose(tenant=T, issue_id="i", variants=variants, bucket_key=str(n))["workflowId"]
            for n in range(50)} == {"a"}


def test_activate_older_version_is_a_rollback(published):
    services.definition_save_snapshot(tenant=T, kind=Kind.WORKFLOW, body={**flow("a"), "comment": "2"},
                                      actor="t", create=False)
    services.definition_publish(tenant=T, kind=Kind.WORKFLOW, key="a", actor="t")
    services.definition_activate(tenant=T, kind=Kind.WORKFLOW, key="a", version=2, actor="t")
    assert selectors.workflow_resolve_for_run(tenant=T, workflow_key="a")["version"] == 2
    services.definition_activate(tenant=T, kind=Kind.WORKFLOW, key="a", version=1, actor="t")
    assert selectors.workflow_resolve_for_run(tenant=T, workflow_key="a")["version"] == 1
    entry = selectors.audit_list(tenant=T, kind=Kind.WORKFLOW, key="a").first()
    assert entry.details == {"previous": 2, "rollback": True}


def test_publish_revalidates_against_current_nodes(db):
    sync(Kind.NODE, SCRIPT)
    sync(Kind.NODE, DONE)
    services.definition_save_snapshot(tenant=T, kind=Kind.WORKFLOW, body=flow("w"), actor="t", create=True)
    # calc's next version expects a parameter the workflow's SNAPSHOT does not map.
    sync(Kind.NODE, {**SCRIPT, "parameters": ["n", "m"]})
    with pytest.raises(InvalidInput) as caught:
        services.definition_publish(tenant=T, kind=Kind.WORKFLOW, key="w", actor="t")
    assert [p.path for p in caught.value.details] == ["$.states.c.parameters.m"]
    assert selectors.definition_head_get(tenant=T, kind=Kind.WORKFLOW, key="w").latest_version == 0
    services.definition_save_snapshot(tenant=T, kind=Kind.WORKFLOW, body=flow("w", node_version=1), actor="t",
                                      create=False)
    assert services.definition_publish(tenant=T, kind=Kind.WORKFLOW, key="w", actor="t").version == 1
