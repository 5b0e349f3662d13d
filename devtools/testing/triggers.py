"""Helpers of the trigger tests: a tenant's secret, triggers through the API, signed hook posts."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from apps.secrets.services import secret_put
from apps.triggers.hook_auth import hmac_hex
from devtools.testing.builders import script_node, state, success_node, wait_node, workflow
from devtools.testing.definitions import publish_definitions

SECRET = "whsec-test-1"
SIGNATURE = "X-Shop-Signature"


def hmac_auth(**extra: Any) -> dict[str, Any]:
    return {"kind": "HMAC_SHA256", "header": SIGNATURE, "secret": "shop_hook", "prefix": "sha256=", **extra}


def put_secret(tenant: str, name: str = "shop_hook", value: str = SECRET) -> None:
    secret_put(tenant=tenant, name=name, value=value, actor="tests")


def publish_flows(tenant: str) -> None:
    """`greet` completes at once with its params; `pay` waits for ON_EVENT `paid` then reads its amount."""
    publish_definitions(
        tenant,
        [script_node("hello", "return 'hi ' + str(_global['params'].get('who'))"), success_node(),
         wait_node("await_payment", waitType="ON_EVENT", eventName="paid"),
         script_node("amount", "return _global['w:event'].amount")],
        [workflow("greet", "h", [state("h", "hello", "done"), state("done")]),
         workflow("pay", "w", [state("w", "await_payment", "a"), state("a", "amount", "done"), state("done")])],
    )


def start_trigger(trigger_id: str = "orders", **overrides: Any) -> dict[str, Any]:
    return {"id": trigger_id, "action": "START", "workflow": {"workflowDefinitionId": "greet"},
            "mapping": {"params.who": "$.body.customer.name", "params.orderRef": "$.body.order",
                        "customer.id": "$.headers.x-shop", "params.source": "shop"},
            "dedupeKey": "$.headers.x-event-id", "auth": hmac_auth()} | overrides


def event_trigger(trigger_id: str = "payments", **overrides: Any) -> dict[str, Any]:
    return {"id": trigger_id, "action": "EVENT", "workflow": {"workflowDefinitionId": "pay"},
            "correlation": {"param.orderRef": "$.body.order"}, "eventName": "paid",
            "dedupeKey": "$.body.id", "auth": hmac_auth()} | overrides


def signed(body: Any, secret: str = SECRET, prefix: str = "sha256=") -> tuple[bytes, str]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw, prefix + hmac_hex(secret, raw)


def post_hook(tenant: str, trigger_id: str, body: Any, *, signature: str | None = None, client: Client | None = None,
              **headers: str):
    raw, good = signed(body)
    sent = {SIGNATURE: good if signature is None else signature, **headers}
    return (client or Client()).post(f"/v3/hooks/{tenant}/{trigger_id}", data=raw, content_type="application/json",
                                     headers={k: v for k, v in sent.items() if v != ""})
