"""REST helpers of the runtime API tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rest_framework.test import APIClient

from apps.clients.services import api_key_create
from apps.runs.contract import FINAL_STATUSES
from apps.runs.models import Run
from devtools.testing.builders import script_node, state, success_node, wait_node, workflow
from devtools.testing.definitions import publish_definitions


def client_for(tenant: str, client_id: str = "tests", scopes: tuple[str, ...] = ("runtime", "definitions"),
               **headers: str) -> APIClient:
    _, raw_key = api_key_create(tenant=tenant, client_id=client_id, scopes=list(scopes))
    client = APIClient()
    defaults = {"HTTP_X_TENANT_ID": tenant, "HTTP_X_CLIENT_ID": client_id}
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}", **(defaults | headers))
    return client


def start(api: APIClient, **body: Any):
    return api.post("/v3/workflow/start", body, format="json")


def start_order(api: APIClient, order_id: str, **body: Any):
    return start(api, issueDetail={"issueId": "order_status", "issueName": "Where is my order"},
                 params={"orderId": order_id}, customer={"id": "c-1"}, **body)


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    """Poll until `predicate()` is truthy (a bound on waiting, not an assertion on time)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def wait_final(workflow_id: str, timeout: float = 30) -> Run:
    return wait_for(lambda: Run.objects.filter(workflow_id=workflow_id, status__in=FINAL_STATUSES).first(),
                    f"run {workflow_id} to end", timeout)


def publish_event_flow(tenant: str) -> None:
    """Workflow `evt`: an ON_EVENT wait for `paid`, then a script reading the event's amount."""
    publish_definitions(
        tenant,
        [wait_node("await_payment", waitType="ON_EVENT", eventName="paid"),
         script_node("amount", "return _global['w:event'].amount"), success_node()],
        [workflow("evt", "w", [state("w", "await_payment", "a"), state("a", "amount", "done"), state("done")])],
    )
