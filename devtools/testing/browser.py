"""Helpers of the browser tests (tests/browser; its conftest.py holds the Chromium fixtures): logging in to the
admin, connecting two nodes in the builder, and flows that several pages show."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from devtools.testing.builders import branch_node, instruction_node, script_node, state, success_node, workflow

SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"
OPERATOR, PASSWORD = "operator", "s3cret-operator"


def admin_login(page, base: str, username: str = OPERATOR, password: str = PASSWORD) -> None:
    """Log in to the admin through its login form."""
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")


def connect(page, source: str, handle: str, target: str, edge: str | None = None) -> None:
    """Drags from `source`'s port `handle` to `target`'s input port; waits for the edge to be drawn. A drag that
    began while the viewport was still moving (a fit after a drop) misses its port: it is dragged again, from
    the ports' new places (at most 3 drags; the edge must come from one of them)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    drawn = page.locator(f"[data-testid='rf__edge-{source}|{edge or handle}']")
    for attempt in range(3):
        start = page.locator(f".react-flow__handle[data-nodeid='{source}'][data-handleid='{handle}']").bounding_box()
        end = page.locator(f".react-flow__handle[data-nodeid='{target}'][data-handleid='in']").bounding_box()
        page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
        page.mouse.down()
        page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=12)
        page.mouse.up()
        try:
            drawn.wait_for(timeout=6000)
            return
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise


def refund_nodes() -> list[dict]:
    """The refund flow's nodes: small amounts are approved by rules, large ones by a review screen."""
    return [
        script_node("fetch_order", "return {'amount': _global.params.amount, 'currency': 'EUR'}"),
        branch_node("check_amount", [("return _global.fetch.amount > 100", "review")], default="auto"),
        instruction_node("review_screen", [{"id": "approve"}], layoutId="review"),
        script_node("auto_approve", "return {'approved': True, 'by': 'rules'}"),
        success_node("done"),
    ]


def refund_workflow() -> dict:
    return workflow("refund", "fetch", [
        state("fetch", "fetch_order", "decide"),
        state("decide", "check_amount"),
        state("review", "review_screen", "done"),
        state("auto", "auto_approve", "done"),
        state("done"),
    ]) | {"comment": "Refund an order: small amounts are approved by rules."}


# A PARALLEL state with two branches and a MAP over `params.lines` (the run page shows their lanes and items).
LANE_NODES = [script_node("credit", "return {'score': 700}"), script_node("fraud", "return {'risk': 'low'}"),
              script_node("fraud_check", "return _global.fraud.risk == 'low'"),
              script_node("double", "return 10 / _global.params.item"), success_node()]
ENRICH = {"instanceName": "enrich", "type": "PARALLEL", "nextNode": "done",
          "branches": [{"name": "credit", "startNode": "credit"}, {"name": "fraud", "startNode": "fraud"}]}
LINES = {"instanceName": "lines", "type": "MAP", "items": "$.params.lines", "maxConcurrency": 2,
         "toleratedFailurePercentage": 50, "nextNode": "done",
         "iterator": {"workflowId": "line", "version": "ACTIVE", "resultPath": "$.double"}}
