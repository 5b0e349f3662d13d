"""validate and execute of every node type (no database, no network)."""

import json
from pathlib import Path

import pytest

from apps.nodes.base import NodeError
from apps.nodes.registry import NODE_TYPES, execute_node, kind_of, retry_policy_fields, validate_node_definition
from apps.nodes.scope import ScriptScope
from apps.nodes.values import resolve_value

SAMPLES = Path("/work/shared/spec/samples/order_status.nodes.json")


def static(data, value_type="STRING"):
    return {"type": "STATIC", "value": {"type": value_type, "data": data}}


def script(source, value_type="STRING"):
    return {"type": "SCRIPT", "value": {"type": value_type, "data": source}}


def paths(problems):
    return sorted(p.path for p in problems)


SCOPE = ScriptScope(
    context={"get_order": {"status": "DELIVERED", "returnable": True, "amount": 12.5},
             "options": [{"id": "picked", "possibleValues": [{"displayValue": "One", "value": 1}],
                          "instructions": [{"templateId": "t", "templateVariables": {"who": "{{customer.name}}"}}]},
                         {"id": "second"}, "not an option"],
             "customer": {"name": "Ada"},
             "nodeParameters": {"orderId": 7}},
    enum_store={"oms": {"base_url": "https://oms.example"}},
)


# --- registry and common fields -------------------------------------------------------------


def test_registry_has_every_type_and_each_type_describes_itself():
    assert set(NODE_TYPES) == {"HTTP", "SCRIPT", "BRANCH", "WAIT", "INSTRUCTION", "SUCCESS", "FAILURE", "CHILD"}

    def where(flag: str) -> set[str]:
        return {name for name, node_type in NODE_TYPES.items() if getattr(node_type, flag)}

    assert where("remote") == {"HTTP"}
    assert where("terminal") == {"SUCCESS", "FAILURE"}
    assert where("disconnectable") == {"HTTP", "SCRIPT", "BRANCH", "INSTRUCTION"}
    assert where("after_completion") == {"HTTP", "SCRIPT"}
    assert where("must_mock") == {"HTTP", "CHILD"}
    assert not kind_of({"type": "NOPE"}).remote and kind_of({"type": "HTTP"}).remote


def test_sample_nodes_are_valid():
    for node in json.loads(SAMPLES.read_text()):
        assert validate_node_definition(node, "$") == [], node["id"]


def test_common_fields():
    assert paths(validate_node_definition({"type": "SUCCESS", "parameters": "x", "name": 3}, "$.n")) == [
        "$.n.id", "$.n.name", "$.n.parameters"]
    problems = validate_node_definition({"id": "a", "type": "TELEPORT"}, "$.states.s.nodeDefinition")
    assert paths(problems) == ["$.states.s.nodeDefinition.type"] and "unknown node type" in problems[0].problem
    assert paths(validate_node_definition({"id": "a"}, "$")) == ["$.type"]
    assert paths(validate_node_definition([], "$")) == ["$"]


def test_value_component_problems():
    node = {"id": "s", "type": "SCRIPT", "transformer": {"type": "GROOVY", "value": {"type": "XML", "data": 1}}}
    assert paths(validate_node_definition(node, "$")) == ["$.transformer.type", "$.transformer.value.type"]
    node["transformer"] = script("return (")
    problems = validate_node_definition(node, "$")
    assert paths(problems) == ["$.transformer.value.data"] and "SyntaxError" in problems[0].problem
    node["transformer"] = script("return x.__class__")
    assert "__class__" in validate_node_definition(node, "$")[0].problem
    node["transformer"] = static("not json", "MAP")
    assert paths(validate_node_definition(node, "$")) == ["$.transformer.value.data"]
    node["transformer"] = {"type": "STATIC", "value": {"type": "STRING"}}
    assert paths(validate_node_definition(node, "$")) == ["$.transformer.value.data"]
    assert paths(validate_node_definition({"id": "s", "type": "SCRIPT"}, "$")) == ["$.transformer"]


# --- HTTP (validate; execute is in test_http.py) --------------------------------------------


def test_http_validate():
    good = {"id": "h", "type": "HTTP", "httpComponents": {"url": static("https://x/y"), "method": "POST",
            "body": static({"a": 1}, "JSON"), "headers": static({"A": "b"}, "MAP")},
            "transformerComponents": {"transformer": script("return _response.a")},
            "timeoutSeconds": 5, "retry": {"maxAttempts": 5, "retryOn4xx": True}}
    assert validate_node_definition(good, "$") == []
    bad = {"id": "h", "type": "HTTP", "httpComponents": {"method": "FETCH", "url": script("return (")},
           "transformerComponents": {"transformer": script("import os\nreturn os.name; x.__y")},
           "timeoutSeconds": -1,
           "retry": {"maxAttempts": 0, "backoffCoefficient": 0.5, "retryOn4xx": "yes", "jitter": 1}}
    assert paths(validate_node_definition(bad, "$")) == [
        "$.httpComponents.method", "$.httpComponents.url.value.data", "$.retry.backoffCoefficient",
        "$.retry.jitter", "$.retry.maxAttempts", "$.retry.retryOn4xx", "$.timeoutSeconds",
        "$.transformerComponents.transformer.value.data"]
    assert paths(validate_node_definition({"id": "h", "type": "HTTP"}, "$")) == ["$.httpComponents"]
    assert paths(validate_node_definition({"id": "h", "type": "HTTP", "httpComponents": {}}, "$")) == [
        "$.httpComponents.url"]


def test_retry_policy_fields_defaults():
    assert retry_policy_fields({}) == {"maxAttempts": 3, "initialIntervalSeconds": 1.0, "backoffCoefficient": 2.0,
                                       "maximumIntervalSeconds": 30.0, "retryOn4xx": False}
    assert retry_policy_fields({"retry": {"maxAttempts": 7, "retryOn4xx": True}})["maxAttempts"] == 7


# --- SCRIPT ---------------------------------------------------------------------------------


def test_script_execute():
    node = {"id": "s", "type": "SCRIPT",
            "transformer": script("return {'s': _global.get_order.status, 'id': nodeParameters.orderId}")}
    assert execute_node(node, {}, SCOPE) == {"output": {"s": "DELIVERED", "id": 7}}


def test_script_error_is_a_non_retryable_node_error():
    node = {"id": "s", "type": "SCRIPT", "transformer": script("return 1 / 0")}
    with pytest.raises(NodeError) as caught:
        execute_node(node, {}, SCOPE)
    assert "transformer: ZeroDivisionError" in caught.value.message and not caught.value.retryable


# --- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("component", "expected"),
    [
        (static("x"), "x"),
        (static('{"a": 1}', "JSON"), {"a": 1}),
        (static([1, 2], "JSON"), [1, 2]),
        (static({"a": 1}, "MAP"), {"a": 1}),
        (static("true", "BOOLEAN"), True),
        (static(0, "BOOLEAN"), False),
        (script("return 5"), 5),
        (script("return {'a': _global.get_order.amount}", "MAP"), {"a": 12.5}),
        (script("return _global.get_order.returnable", "BOOLEAN"), True),
        (script("return _global.nothing", "BOOLEAN"), None),
        ("plain literal", "plain literal"),
    ],
)
def test_resolve_value(component, expected):
    assert resolve_value(component, SCOPE) == expected


def test_resolve_value_type_mismatch():
    with pytest.raises(NodeError, match="field: a MAP value must be an object"):
        resolve_value(script("return [1]", "MAP"), SCOPE, field="field")


# --- BRANCH ---------------------------------------------------------------------------------

BRANCH = {"id": "b", "type": "BRANCH", "defaultNode": "other", "choices": [
    {"rule": script("return _global.get_order.status == 'CANCELLED'", "BOOLEAN"), "nextNode": "cancelled"},
    {"rule": script("return _global.get_order.returnable"), "nextNode": "ask_reason"},
]}


def test_branch_validate():
    assert validate_node_definition(BRANCH, "$") == []
    bad = {"id": "b", "type": "BRANCH", "defaultNode": 3, "choices": [{"rule": script("return (")}, "x"]}
    assert paths(validate_node_definition(bad, "$")) == [
        "$.choices[0].nextNode", "$.choices[0].rule.value.data", "$.choices[1]", "$.defaultNode"]
    assert paths(validate_node_definition({"id": "b", "type": "BRANCH"}, "$")) == ["$.choices"]


def test_branch_execute():
    assert execute_node(BRANCH, {}, SCOPE) == {"output": {"nextNode": "ask_reason"}, "nextNode": "ask_reason"}
    no_match = {**BRANCH, "choices": BRANCH["choices"][:1]}
    assert execute_node(no_match, {}, SCOPE)["nextNode"] == "other"
    with pytest.raises(NodeError, match="no branch rule matched"):
        execute_node({**no_match, "defaultNode": None}, {}, SCOPE)


# --- WAIT -----------------------------------------------------------------------------------


def wait(config):
    return {"id": "w", "type": "WAIT", "config": config}


def test_wait_validate():
    assert validate_node_definition(wait({"waitType": "SCHEDULER_WAIT", "duration": 30, "executionMode": "SYNC"}),
                                    "$") == []
    assert validate_node_definition(wait({"waitType": "SCHEDULER_WAIT", "duration": script("return 3")}), "$") == []
    for config in ({"waitType": "ABSOLUTE_WAIT", "timestamp": "2030-01-01T00:00:00Z"},
                   {"waitType": "ON_EVENT", "eventName": "paid", "timeoutSeconds": 60}):
        assert validate_node_definition(wait(config), "$") == []
    assert paths(validate_node_definition(wait({"waitType": "SLEEP"}), "$")) == ["$.config.waitType"]
    assert paths(validate_node_definition(wait({"waitType": "SCHEDULER_WAIT", "duration": "x",
                                                "executionMode": "LATER"}), "$")) == [
        "$.config.duration", "$.config.executionMode"]
    assert paths(validate_node_definition(wait({"waitType": "ABSOLUTE_WAIT", "timestamp": "tomorrow"}), "$")) == [
        "$.config.timestamp"]
    assert paths(validate_node_definition(wait({"waitType": "ON_EVENT", "timeoutSeconds": 0}), "$")) == [
        "$.config.eventName", "$.config.timeoutSeconds"]
    assert paths(validate_node_definition({"id": "w", "type": "WAIT"}, "$")) == ["$.config"]


def test_wait_execute():
    assert execute_node(wait({"waitType": "SCHEDULER_WAIT", "duration": 30, "executionMode": "SYNC"}), {}, SCOPE) == {
        "wait": {"type": "TIMER", "seconds": 30.0, "mode": "SYNC"}}
    assert execute_node(wait({"waitType": "SCHEDULER_WAIT", "duration": script("return 2 * 5")}), {}, SCOPE) == {
        "wait": {"type": "TIMER", "seconds": 10.0, "mode": "ASYNC"}}
    assert execute_node(wait({"waitType": "ABSOLUTE_WAIT", "timestamp": "2030-01-01T00:00:00Z"}), {}, SCOPE) == {
        "wait": {"type": "ABSOLUTE", "until": 1893456000.0}}
    later = script("return add_seconds('2030-01-01T00:00:00Z', 60)")
    scripted = wait({"waitType": "ABSOLUTE_WAIT", "timestamp": later})
    assert execute_node(scripted, {}, SCOPE)["wait"]["until"] == 1893456060.0
    assert execute_node(wait({"waitType": "ON_EVENT", "eventName": "paid"}), {}, SCOPE) == {
        "wait": {"type": "EVENT", "eventName": "paid", "timeoutSeconds": None}}
    with pytest.raises(NodeError, match="config.timestamp"):
        execute_node(wait({"waitType": "ABSOLUTE_WAIT", "timestamp": script("return 'soon'")}), {}, SCOPE)


# --- INSTRUCTION ----------------------------------------------------------------------------

INSTRUCTION = {
    "id": "i", "type": "INSTRUCTION",
    "layoutId": {"attribute": static("form")},
    "disposition": {"attribute": script("return 'SHOWN_' + _global.get_order.status")},
    "inputOptions": [
        {"id": "greet", "tags": {"values": ["ui.static_text"]},
         "instructions": [{"templateId": "hello", "templateVariables": {
             "name": "{{customer.name}}", "line": "Order is {{get_order.status}} ({{get_order.amount}})",
             "missing": "{{nope.nothing}}", "nested": {"list": ["{{customer.name}}!"]}}}]},
        {"possibleDynamicValues": "options"},
        {"id": "parent", "possibleValues": [{"value": "A"}],
         "possibleDependentValues": {"A": {"id": "child", "instructions": [
             {"templateId": "t", "templateVariables": {"who": "{{customer.name}}"}}]}}},
    ],
}


def test_instruction_validate():
    assert validate_node_definition(INSTRUCTION, "$") == []
    bad = {"id": "i", "type": "INSTRUCTION", "layoutId": {"x": 1}, "workflowStatus": {"attribute": script("return (")},
           "inputOptions": [{"tags": {"values": [1]}, "instructions": [{"templateId": 1}], "possibleValues": [1],
                             "possibleDependentValues": {"A": {"description": 5}}}]}
    assert paths(validate_node_definition(bad, "$")) == [
        "$.inputOptions[0].id", "$.inputOptions[0].instructions[0].templateId",
        "$.inputOptions[0].possibleDependentValues.A.description", "$.inputOptions[0].possibleDependentValues.A.id",
        "$.inputOptions[0].possibleValues", "$.inputOptions[0].tags.values", "$.layoutId",
        "$.workflowStatus.attribute.value.data"]


def test_instruction_execute():
    outcome = execute_node(INSTRUCTION, {"instanceName": "ask"}, SCOPE)
    assert outcome["output"] is None and outcome["disposition"] == "SHOWN_DELIVERED"
    assert outcome["workflowStatus"] is None
    view = outcome["view"]
    assert view["layoutId"] == "form"
    variables = view["inputOptions"][0]["instructions"][0]["templateVariables"]
    assert variables == {"name": "Ada", "line": "Order is DELIVERED (12.5)", "missing": "",
                         "nested": {"list": ["Ada!"]}}
    # Spec §7: the entry naming possibleDynamicValues is replaced by the Options found at that path.
    assert [option["id"] for option in view["inputOptions"]] == ["greet", "picked", "second", "parent"]
    assert view["inputOptions"][1]["possibleValues"] == [{"displayValue": "One", "value": 1}]
    assert view["inputOptions"][1]["instructions"][0]["templateVariables"] == {"who": "Ada"}
    child = view["inputOptions"][3]["possibleDependentValues"]["A"]
    assert child["instructions"][0]["templateVariables"] == {"who": "Ada"}
    assert INSTRUCTION["inputOptions"][0]["instructions"][0]["templateVariables"]["name"] == "{{customer.name}}"


# --- SUCCESS, FAILURE, CHILD ----------------------------------------------------------------


def test_instruction_dynamic_values_alone_make_the_whole_view_and_missing_gives_none():
    node = {"id": "i", "type": "INSTRUCTION", "inputOptions": [{"possibleDynamicValues": "options"}]}
    assert validate_node_definition(node, "$") == []
    assert [o["id"] for o in execute_node(node, {}, SCOPE)["view"]["inputOptions"]] == ["picked", "second"]
    missing = {**node, "inputOptions": [{"possibleDynamicValues": "nope"}]}
    assert execute_node(missing, {}, SCOPE)["view"]["inputOptions"] == []


def test_bare_literals_are_accepted_where_a_component_is_allowed():
    """apps/nodes/README.md: a bare literal where a component is allowed is taken as-is (validate agrees)."""
    node = {"id": "i", "type": "INSTRUCTION", "inputOptions": [], "layoutId": "form",
            "disposition": {"attribute": "SHOWN"}}
    assert validate_node_definition(node, "$") == []
    outcome = execute_node(node, {}, SCOPE)
    assert (outcome["view"]["layoutId"], outcome["disposition"]) == ("form", "SHOWN")
    http = {"id": "h", "type": "HTTP", "httpComponents": {"url": "https://x.example/y", "method": "GET"}}
    assert validate_node_definition(http, "$") == []
    assert paths(validate_node_definition({**node, "layoutId": {"x": 1}}, "$")) == ["$.layoutId"]


def test_terminals():
    assert validate_node_definition({"id": "d", "type": "SUCCESS", "comment": "ok"}, "$") == []
    assert paths(validate_node_definition({"id": "d", "type": "SUCCESS", "comment": 1}, "$")) == ["$.comment"]
    assert execute_node({"id": "d", "type": "SUCCESS", "comment": "ok"}, {}, SCOPE) == {"terminal": "COMPLETED"}
    assert validate_node_definition({"id": "f", "type": "FAILURE", "error": "bad"}, "$") == []
    assert paths(validate_node_definition({"id": "f", "type": "FAILURE", "error": []}, "$")) == ["$.error"]
    assert execute_node({"id": "f", "type": "FAILURE", "error": "bad"}, {}, SCOPE) == {
        "terminal": "FAILED", "error": "bad"}
    # The workflow settles a fixed error itself; the cause of a jump to defaultFailureNode stays visible.
    settle = NODE_TYPES["FAILURE"].settle
    assert settle({"type": "FAILURE", "error": "bad"}, "f", "HTTP 500") == {"terminal": "FAILED",
                                                                           "error": "bad: HTTP 500"}
    assert settle({"type": "FAILURE"}, "f", None) == {"terminal": "FAILED", "error": "run failed at f"}
    assert settle({"type": "FAILURE", "error": "{{customer.id}}"}, "f", None) is None


def test_child():
    node = {"id": "c", "type": "CHILD", "childWorkflowId": "sub", "childWorkflowVersion": 2, "executionMode": "ASYNC"}
    assert validate_node_definition(node, "$") == []
    assert execute_node(node, {}, SCOPE) == {"child": {"workflowId": "sub", "version": 2, "mode": "ASYNC"}}
    assert execute_node({"id": "c", "type": "CHILD", "childWorkflowId": "sub"}, {}, SCOPE) == {
        "child": {"workflowId": "sub", "version": "ACTIVE", "mode": "SYNC"}}
    bad = {"id": "c", "type": "CHILD", "childWorkflowVersion": "NEWEST", "executionMode": "MAYBE"}
    assert paths(validate_node_definition(bad, "$")) == [
        "$.childWorkflowId", "$.childWorkflowVersion", "$.executionMode"]
