"""A refund workflow with every kind of step a test case drives: an HTTP call, a branch, a screen, a 2-day
wait, a script; and test cases for it."""

from __future__ import annotations

from typing import Any

from devtools.testing.builders import branch_node, instruction_node, script_node, state, success_node, value, wait_node


def nodes(base_url: str = "https://oms.invalid") -> list[dict[str, Any]]:
    return [
        {"id": "fetch_order", "name": "fetch order", "type": "HTTP",
         "httpComponents": {"url": value(f"return '{base_url}/orders/' + str(_global.params.orderId)"),
                            "method": "GET"},
         "transformerComponents": {"transformer": value("return {'amount': _response.amount, 'code': _status_code}")}},
        branch_node("check_amount", [("return _global.fetch.amount > 100", "review")], default="auto"),
        instruction_node("review_screen", [{"id": "decision"}], layoutId="refund_review"),
        wait_node("cool_off", waitType="SCHEDULER_WAIT", duration=2 * 86400),
        script_node("auto_approve", "return {'approved': True, 'amount': _global.fetch.amount}"),
        success_node("done"),
    ]


def refund(tests: list[dict[str, Any]] | None = None, *, threshold: int = 100) -> dict[str, Any]:
    body = {
        "id": "refund", "startNode": "fetch", "postWorkflowCompletionNodes": [],
        "states": {s["instanceName"]: s for s in [
            state("fetch", "fetch_order", "decide"),
            state("decide", "check_amount"),
            state("review", "review_screen", "pause"),
            state("pause", "cool_off", "done"),
            state("auto", "auto_approve", "done"),
            state("done"),
        ]},
    }
    if threshold != 100:  # the "broken" variant: a wrong threshold sends big refunds to auto-approval
        body["states"]["decide"]["nodeDefinition"] = branch_node(
            "check_amount", [(f"return _global.fetch.amount > {threshold}", "review")], default="auto")
        body["states"]["decide"].pop("resourceId")
        body["states"]["decide"].pop("resourceVersion")
    if tests is not None:
        body["tests"] = tests
    return body


def order(amount: int, status: int = 200) -> dict[str, Any]:
    return {"status": status, "body": {"amount": amount}}


def cases() -> list[dict[str, Any]]:
    return [
        {"name": "small refunds are approved by rules", "start": {"params": {"orderId": 1}},
         "mocks": {"fetch": [order(20)]},
         "expect": {"status": "COMPLETED", "path": ["fetch", "decide", "auto", "done"],
                    "context": {"$.auto.approved": True, "$.fetch.code": 200}}},
        {"name": "big refunds wait for a reviewer", "start": {"params": {"orderId": 2}},
         "mocks": {"fetch": [order(500)]},
         "expect": {"status": "WAITING", "path": ["fetch", "decide", "review"]}},
        {"name": "a reviewed refund cools off for two days, then completes", "start": {"params": {"orderId": 3}},
         "mocks": {"fetch": [order(500)]}, "resumes": [{"decision": "approve"}],
         "expect": {"status": "COMPLETED", "path": ["fetch", "decide", "review", "pause", "done"],
                    "context": {"$.review:viewResponse.decision": "approve"}}},
    ]
