import copy

import pytest

from apps.definitions.models import AuditEntry
from devtools.testing.tenancy import key_client

pytestmark = pytest.mark.django_db


def create_samples(api, nodes, workflow):
    for node in nodes:
        assert api.post("/nodeDefinition/", node, format="json").status_code == 201
        assert api.post(f"/nodeDefinition/{node['id']}/publishNode/").status_code == 201
    response = api.post("/workflowDefinition/", workflow, format="json")
    assert response.status_code == 201, response.json()
    return response


def test_sample_lifecycle_through_rest(api, sample_nodes, sample_workflow):
    created = create_samples(api, sample_nodes, sample_workflow)
    assert created.json()["version"] == "SNAPSHOT"
    assert api.post("/workflowDefinition/order_status/publishWorkflow/").json()["version"] == 1
    assert api.post("/workflowDefinition/order_status/publishWorkflow/").json()["version"] == 2
    assert api.get("/workflowDefinition/order_status").json()["version"] == 2
    assert api.get("/workflowDefinition/order_status?version=LATEST").json()["version"] == 2

    activated = api.post("/workflowDefinition/order_status/activate?version=1")
    assert activated.status_code == 200, activated.json()
    assert activated.json()["activeVersion"] == 1
    assert api.get("/workflowDefinition/order_status?version=ACTIVE").json()["version"] == 1

    history = api.get("/workflowDefinition/order_status/versions/").json()
    assert [v["version"] for v in history["versions"]] == ["SNAPSHOT", "1", "2"]
    assert (history["latestVersion"], history["activeVersion"]) == (2, 1)
    assert AuditEntry.objects.filter(key="order_status", action="PUBLISH").count() == 2


def test_get_edit_put_round_trip_writes_the_snapshot(api, sample_nodes, sample_workflow):
    """Spec §7: a `version` in a saved document is ignored; published versions stay as they were."""
    create_samples(api, sample_nodes, sample_workflow)
    api.post("/workflowDefinition/order_status/publishWorkflow/")
    fetched = api.get("/workflowDefinition/order_status?version=1").json()
    assert fetched["version"] == 1
    response = api.put("/workflowDefinition/", {**fetched, "comment": "edited"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["definition"]["version"] == "SNAPSHOT"
    assert api.get("/workflowDefinition/order_status?version=SNAPSHOT").json()["comment"] == "edited"
    assert api.get("/workflowDefinition/order_status?version=1").json().get("comment") != "edited"


def test_create_with_a_numeric_version_creates_the_snapshot(api, sample_nodes):
    for index, version in enumerate((1, "1", "7", "LATEST")):
        node = {**sample_nodes[-1], "id": f"fresh_{index}", "version": version}
        response = api.post("/nodeDefinition/", node, format="json")
        assert response.status_code == 201, response.json()
        assert api.get(f"/nodeDefinition/fresh_{index}?version=SNAPSHOT").json()["version"] == "SNAPSHOT"


def test_create_twice_conflicts_and_update_unknown_is_404(api, sample_nodes):
    assert api.post("/nodeDefinition/", sample_nodes[0], format="json").status_code == 201
    assert api.post("/nodeDefinition/", sample_nodes[0], format="json").status_code == 409
    assert api.put("/nodeDefinition/", {**sample_nodes[0], "id": "nope"}, format="json").status_code == 404


def test_update_snapshot_then_diff(api, sample_nodes):
    node = sample_nodes[-1]  # FAILURE node
    api.post("/nodeDefinition/", node, format="json")
    api.post(f"/nodeDefinition/{node['id']}/publishNode/")
    assert api.put("/nodeDefinition/", {**node, "error": "changed"}, format="json").status_code == 200
    api.post(f"/nodeDefinition/{node['id']}/publishNode/")
    assert api.get(f"/nodeDefinition/{node['id']}?version=SNAPSHOT").json()["error"] == "changed"
    assert api.get(f"/nodeDefinition/{node['id']}?version=1").json()["error"] == node["error"]
    diff = api.get(f"/nodeDefinition/{node['id']}/diff?from=1&to=2").json()
    assert diff["changes"] == [{"path": "$.error", "op": "changed", "old": node["error"], "new": "changed"}]


def test_enrich_inlines_node_definitions(api, sample_nodes, sample_workflow):
    create_samples(api, sample_nodes, sample_workflow)
    body = api.get("/workflowDefinition/order_status?version=SNAPSHOT&enrichNodeDefinition=true").json()
    assert body["states"]["decide"]["nodeDefinition"]["type"] == "BRANCH"
    plain = api.get("/workflowDefinition/order_status?version=SNAPSHOT").json()
    assert plain["states"]["decide"].get("nodeDefinition") is None


def test_one_400_lists_every_problem(api, sample_nodes, sample_workflow):
    create_samples(api, sample_nodes, sample_workflow)
    workflow = copy.deepcopy(sample_workflow)
    workflow["id"] = "broken"
    workflow["states"]["record_reason"]["nextNode"] = "nowhere"
    workflow["states"]["odd"] = {"instanceName": "odd", "type": "NODE", "nextNode": "done",
                                 "nodeDefinition": {"id": "odd", "name": "odd", "type": "TELEPORT"}}
    workflow["states"]["no_http"] = {"instanceName": "no_http", "type": "NODE", "end": True,
                                     "nodeDefinition": {"id": "no_http", "name": "x", "type": "HTTP"}}
    workflow["states"]["bad_script"] = {
        "instanceName": "bad_script", "type": "NODE", "nextNode": "done",
        "nodeDefinition": {"id": "bad_script", "name": "x", "type": "SCRIPT",
                           "transformer": {"type": "SCRIPT", "value": {"type": "STRING", "data": "return (1 +"}}},
    }
    response = api.post("/workflowDefinition/", workflow, format="json")
    assert response.status_code == 400
    paths = sorted(d["path"] for d in response.json()["details"])
    assert paths == [
        "$.states.bad_script.nodeDefinition.transformer.value.data",  # syntax error
        "$.states.no_http.nodeDefinition.httpComponents",  # missing required field
        "$.states.odd.nodeDefinition.type",  # unknown node type
        "$.states.record_reason.nextNode",  # dangling edge
    ]


def test_cycle_without_exit_is_a_warning(api, sample_nodes):
    script = sample_nodes[3]  # record_reason, SCRIPT
    api.post("/nodeDefinition/", script, format="json")
    api.post(f"/nodeDefinition/{script['id']}/publishNode/")
    state = {"type": "NODE", "resourceId": script["id"], "resourceVersion": 1}
    workflow = {"id": "spin", "startNode": "a", "states": {
        "a": {**state, "instanceName": "a", "nextNode": "b"}, "b": {**state, "instanceName": "b", "nextNode": "a"},
    }}
    response = api.post("/workflowDefinition/", workflow, format="json")
    assert response.status_code == 201, response.json()
    assert [w["path"] for w in response.json()["warnings"]] == ["$.states.a"]
    validated = api.post("/workflowDefinition/validate/", workflow, format="json").json()
    assert validated["valid"] is True and len(validated["warnings"]) == 1


def test_validate_only_reports_without_saving(api):
    response = api.post("/workflowDefinition/validate/", {"id": "x", "startNode": "a", "states": {}}, format="json")
    assert response.status_code == 200
    assert response.json()["valid"] is False
    assert "$.states" in [e["path"] for e in response.json()["errors"]]
    assert api.get("/workflowDefinition/x?version=SNAPSHOT").status_code == 404


def test_listing(api, sample_nodes):
    for node in sample_nodes[:3]:
        api.post("/nodeDefinition/", node, format="json")
    listed = api.get("/nodeDefinition/").json()
    assert listed["count"] == 3
    assert sorted(r["id"] for r in listed["results"]) == sorted(n["id"] for n in sample_nodes[:3])
    assert api.get("/workflowDefinition/").json()["count"] == 0


def test_other_tenant_sees_404(api, sample_nodes):
    api.post("/nodeDefinition/", sample_nodes[0], format="json")
    other = key_client("globex", ["definitions"])
    assert api.get("/nodeDefinition/get_order?version=SNAPSHOT").status_code == 200
    assert other.get("/nodeDefinition/get_order?version=SNAPSHOT").status_code == 404
    assert other.post("/nodeDefinition/get_order/publishNode/").status_code == 404


def test_routes_and_enum_store(api, sample_nodes, sample_workflow):
    create_samples(api, sample_nodes, sample_workflow)
    api.post("/workflowDefinition/order_status/publishWorkflow/")
    route = {"workflowId": "order_status", "version": "LATEST"}
    assert api.put("/routes/order_status", route, format="json").status_code == 200
    assert api.get("/routes/order_status").json()["workflowId"] == "order_status"
    assert api.get("/routes/").json()["results"][0]["issueId"] == "order_status"
    bad = api.put("/routes/x", {"workflowId": "ghost"}, format="json")
    assert bad.status_code == 400 and bad.json()["details"][0]["path"] == "$.workflowId"
    assert api.delete("/routes/order_status").status_code == 204
    assert api.get("/routes/order_status").status_code == 404

    assert api.put("/enumStore/oms", {"value": {"base_url": "http://x"}}, format="json").status_code == 200
    assert api.get("/enumStore/").json() == {"oms": {"base_url": "http://x"}}
    assert api.get("/enumStore/oms").json()["value"] == {"base_url": "http://x"}
    assert api.delete("/enumStore/oms").status_code == 204
    assert api.get("/enumStore/").json() == {}


def test_audit_log(api, sample_nodes):
    api.post("/nodeDefinition/", sample_nodes[0], format="json")
    api.post("/nodeDefinition/get_order/publishNode/")
    entries = api.get("/auditLog/?kind=NODE&id=get_order").json()["results"]
    assert [e["action"] for e in entries] == ["PUBLISH", "CREATE"]
    assert entries[0]["actor"] == "tests/tests"


def test_schema_lists_definition_endpoints(api):
    from django.contrib.auth.models import User
    from rest_framework.test import APIClient

    staff = APIClient()
    staff.force_authenticate(User.objects.create(username="ops", is_staff=True))
    schema = staff.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/workflowDefinition/{key}/publishWorkflow/" in paths
    assert "/nodeDefinition/{key}/publishNode/" in paths
