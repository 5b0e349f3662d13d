import pytest

from apps.definitions import selectors, services
from apps.definitions.models import AuditEntry, Kind
from drift.errors import Conflict, InvalidInput, NotFound

T = "acme"


def save(kind, body, create=True):
    return services.definition_save_snapshot(tenant=T, kind=kind, body=body, actor="alice", create=create)


def load_samples(nodes, workflow):
    for node in nodes:
        save(Kind.NODE, node)
        services.definition_publish(tenant=T, kind=Kind.NODE, key=node["id"], actor="alice")
    save(Kind.WORKFLOW, workflow)
    return services.definition_publish(tenant=T, kind=Kind.WORKFLOW, key=workflow["id"], actor="alice")


@pytest.mark.django_db
def test_publish_activate_resolve(sample_nodes, sample_workflow):
    load_samples(sample_nodes, sample_workflow)
    second = services.definition_publish(tenant=T, kind=Kind.WORKFLOW, key="order_status", actor="bob")
    assert second.version == 2
    services.definition_activate(tenant=T, kind=Kind.WORKFLOW, key="order_status", version=1, actor="bob")
    resolved = selectors.workflow_resolve_for_run(tenant=T, workflow_key="order_status")
    assert resolved["version"] == 1
    state = resolved["definition"]["states"]["get_order"]
    assert state["resourceVersion"] == 1
    assert state["nodeDefinition"]["type"] == "HTTP"
    assert selectors.definition_get(tenant=T, kind=Kind.WORKFLOW, key="order_status")["version"] == 2
    assert AuditEntry.objects.filter(tenant=T, key="order_status", action="ACTIVATE").count() == 1


@pytest.mark.django_db
def test_save_conflicts(sample_nodes):
    node = sample_nodes[0]
    save(Kind.NODE, node)
    with pytest.raises(Conflict):
        save(Kind.NODE, node)
    with pytest.raises(NotFound):
        save(Kind.NODE, {**node, "id": "other"}, create=False)
    # Spec §7: a saved document's `version` is ignored; the SNAPSHOT is written.
    assert save(Kind.NODE, {**node, "version": 1}, create=False)[0].body["version"] == "SNAPSHOT"


@pytest.mark.django_db
def test_workflow_problems_all_reported(sample_nodes, sample_workflow):
    for node in sample_nodes:
        save(Kind.NODE, node)
    services.definition_publish(tenant=T, kind=Kind.NODE, key="get_order", actor="a")
    body = dict(sample_workflow, startNode="nowhere", defaultFailureNode="gone",
                postWorkflowCompletionNodes=["x"])
    body["states"] = dict(body["states"])
    body["states"]["get_order"] = dict(body["states"]["get_order"], parameters={}, nextNode="missing")
    body["states"]["done"] = dict(body["states"]["done"], resourceVersion="ACTIVE")
    with pytest.raises(InvalidInput) as caught:
        save(Kind.WORKFLOW, body)
    paths = {p.path for p in caught.value.details}
    assert {
        "$.startNode",
        "$.defaultFailureNode",
        "$.postWorkflowCompletionNodes[0]",
        "$.states.get_order.nextNode",
        "$.states.get_order.parameters.orderId",
        "$.states.done.resourceId",  # no ACTIVE version
        "$.states.decide.resourceId",  # is_returnable has no published (LATEST) version
    } <= paths


@pytest.mark.django_db
def test_post_completion_nodes_may_only_notify_or_record():
    wait = {"id": "pause", "name": "pause", "type": "WAIT", "config": {"waitType": "ON_EVENT", "eventName": "x"}}
    note = {"id": "note", "name": "note", "type": "SCRIPT",
            "transformer": {"type": "SCRIPT", "value": {"type": "STRING", "data": "return 1"}}}
    done = {"id": "done", "name": "done", "type": "SUCCESS"}
    states = {name: {"instanceName": name, "type": "NODE", "nodeDefinition": node}
              for name, node in (("end", done), ("wait", wait), ("note", note))}
    body = {"id": "post", "startNode": "end", "states": states, "postWorkflowCompletionNodes": ["note", "wait"]}
    problems = services.definition_validate(tenant=T, kind=Kind.WORKFLOW, body=body)
    assert [(p.path, p.severity) for p in problems if "after completion" in p.problem] == [
        ("$.postWorkflowCompletionNodes[1]", "error")
    ]


def _child_parent(parameters: dict) -> dict:
    child_node = {"id": "launch", "type": "CHILD", "childWorkflowId": "refund_child", "executionMode": "SYNC"}
    return {"id": "parent", "startNode": "c", "states": {
        "c": {"instanceName": "c", "type": "NODE", "nodeDefinition": child_node, "parameters": parameters}}}


@pytest.mark.django_db
def test_child_state_warns_when_the_child_reads_params_its_mapping_does_not_give():
    """Issue 9: a CHILD run's params are the CHILD state's parameters; the child reads $.params.orderId."""
    save(Kind.NODE, {"id": "lookup", "type": "SCRIPT", "parameters": ["orderId"],
                     "transformer": {"type": "SCRIPT", "value": {"type": "STRING", "data": "return 1"}}})
    save(Kind.WORKFLOW, {"id": "refund_child", "startNode": "l", "states": {
        "l": {"instanceName": "l", "resourceId": "lookup", "resourceVersion": "SNAPSHOT",
              "parameters": {"orderId": "$.params.orderId"}}}})
    services.definition_publish(tenant=T, kind=Kind.WORKFLOW, key="refund_child", actor="alice")
    warned = services.definition_validate(tenant=T, kind=Kind.WORKFLOW, body=_child_parent({}))
    assert [(p.path, p.severity) for p in warned] == [("$.states.c.parameters", "warning")]
    assert "$.params.orderId" in warned[0].problem and "state 'l'" in warned[0].problem
    given = _child_parent({"orderId": "$.params.orderId"})
    assert services.definition_validate(tenant=T, kind=Kind.WORKFLOW, body=given) == []
    _, warnings = save(Kind.WORKFLOW, _child_parent({}))  # a warning, not an error: it saves
    assert len(warnings) == 1


def test_unknown_retry_key_lists_the_valid_ones():
    from apps.nodes.registry import validate_node_definition

    node = {"id": "h", "type": "HTTP", "httpComponents": {"url": "https://x.example/"}, "retry": {"attempts": 5}}
    (problem,) = validate_node_definition(node, "$")
    assert problem.path == "$.retry.attempts"
    assert problem.problem == ("is not a retry setting; valid keys: maxAttempts, initialIntervalSeconds, "
                               "backoffCoefficient, maximumIntervalSeconds, retryOn4xx")
