"""/v3/triggers/ (spec §13): CRUD, tenant-scoped, validated like a definition (400 with the path)."""

from __future__ import annotations

import pytest

from apps.triggers.models import EventStatus, Trigger, TriggerEvent
from devtools.testing.rest import client_for
from devtools.testing.triggers import event_trigger, hmac_auth, publish_flows, put_secret, start_trigger


@pytest.fixture
def ready(tenant, db) -> str:
    publish_flows(tenant)
    put_secret(tenant)
    return tenant


def _problem(response, path: str, words: str = "") -> None:
    assert response.status_code == 400, response.content[:500]
    details = response.json()["details"]
    assert any(d["path"].startswith(path) and words in d["problem"] for d in details), details


def test_create_read_replace_delete(api, ready):
    created = api.post("/v3/triggers/", start_trigger(), format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["hookPath"] == f"/v3/hooks/{ready}/orders" and body["auth"]["secret"] == "shop_hook"
    assert api.post("/v3/triggers/", start_trigger(), format="json").status_code == 409
    assert [t["id"] for t in api.get("/v3/triggers/").json()] == ["orders"]
    replaced = api.put("/v3/triggers/orders", start_trigger(enabled=False), format="json")
    assert replaced.status_code == 200 and replaced.json()["enabled"] is False
    assert api.get("/v3/triggers/orders").json()["enabled"] is False
    assert api.put("/v3/triggers/nope", start_trigger(id="nope"), format="json").status_code == 404
    assert api.get("/v3/triggers/orders/events").json() == []
    assert api.delete("/v3/triggers/orders").status_code == 204
    assert api.get("/v3/triggers/orders").status_code == 404


def test_event_trigger_is_saved(api, ready):
    created = api.post("/v3/triggers/", event_trigger(), format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["correlation"] == {"param.orderRef": "$.body.order"}


@pytest.mark.parametrize(("change", "path", "words"), [
    ({"workflow": {"workflowDefinitionId": "nope"}}, "$.workflow", ""),
    ({"workflow": None}, "$.workflow", "names a workflowDefinitionId"),
    ({"workflow": {"workflowDefinitionId": "greet", "issueId": "x"}}, "$.workflow", "either"),
    ({"mapping": {"params.who": "$.bodyx.name"}}, "$.mapping.params.who", "must start with"),
    ({"mapping": {"params.who": "$.body..name"}}, "$.mapping.params.who", "not a valid path"),
    ({"mapping": {"mode": "SYNC"}}, "$.mapping.mode", "not a start-body field"),
    ({"mapping": {"params.who": {"literal": 1, "x": 2}}}, "$.mapping.params.who", "literal"),
    ({"mapping": []}, "$.mapping", "object"),
    ({"dedupeKey": "headers.x"}, "$.dedupeKey", "$.-path"),
    ({"dedupeKey": 5}, "$.dedupeKey", ""),
    ({"auth": hmac_auth(secret="missing")}, "$.auth.secret", "no secret 'missing'"),
    ({"auth": hmac_auth(header="bad header")}, "$.auth.header", "header name"),
    ({"auth": hmac_auth(toleranceSeconds=True)}, "$.auth.toleranceSeconds", "integer"),
    ({"auth": hmac_auth(toleranceSeconds=1.5)}, "$.auth.toleranceSeconds", "integer"),
    ({"auth": {"kind": "BASIC", "secret": "shop_hook"}}, "$.auth.kind", ""),
    ({"auth": {"kind": ["TOKEN"], "secret": "shop_hook"}}, "$.auth.kind", ""),
    ({"auth": {"kind": "TOKEN", "secret": "shop_hook", "header": "x"}}, "$.auth.header", "not a field"),
    ({"action": "RESUME"}, "$.action", ""),
    ({"id": "bad id!"}, "$.id", ""),
    ({"id": 7}, "$.id", ""),
    ({"enabled": "maybe"}, "$.enabled", ""),
    ({"surprise": 1}, "$.surprise", "Unknown"),
    ({"correlation": {"param.x": "$.body.x"}}, "$.correlation", "EVENT"),
])
def test_a_bad_start_trigger_is_400_with_the_path(api, ready, change, path, words):
    body = {key: value for key, value in (start_trigger() | change).items() if value is not None or key != "workflow"}
    if change.get("workflow", 1) is None:
        body.pop("workflow", None)
    _problem(api.post("/v3/triggers/", body, format="json"), path, words)
    assert not Trigger.objects.filter(tenant=ready).exists()


@pytest.mark.parametrize(("change", "path", "words"), [
    ({"correlation": None}, "$.correlation", "search keys"),
    ({"correlation": {"customerID": "$.body.c"}}, "$.correlation.customerID", "not a search key"),
    ({"correlation": {"status": "WAITING"}}, "$.correlation.status", "open one"),
    ({"correlation": {"param.orderRef": "$.query..x"}}, "$.correlation.param.orderRef", "valid path"),
    ({"eventName": None}, "$.eventName", "names the event"),
])
def test_a_bad_event_trigger_is_400_with_the_path(api, ready, change, path, words):
    _problem(api.post("/v3/triggers/", event_trigger(**change), format="json"), path, words)


def test_hostile_bodies_are_400_never_500(api, ready):
    deep = '{"id": "x", "mapping": ' + '{"a":' * 600 + "1" + "}" * 600 + "}"
    for raw in ('{"id": "x", "action": "START", "auth": {"kind": "TOKEN", "secret": "\\ud800"}}',
                '{"id": "x", "action": "START", "mapping": {"params.a": NaN}}',
                '{"id": "x", "action": "START", "mapping": {"params.a": 1e999}}', deep, "[1, 2]", "not json", ""):
        response = api.post("/v3/triggers/", data=raw.encode(), content_type="application/json")
        assert response.status_code == 400, (raw[:60], response.content[:300])
    huge = b'{"id": "x", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    assert api.post("/v3/triggers/", data=huge, content_type="application/json").status_code == 413


def test_triggers_are_tenant_scoped_and_need_the_definitions_scope(api, ready, db):
    assert api.post("/v3/triggers/", start_trigger(), format="json").status_code == 201
    other = client_for("t-other-tenant")
    assert other.get("/v3/triggers/").json() == []
    assert other.get("/v3/triggers/orders").status_code == 404
    assert other.delete("/v3/triggers/orders").status_code == 404
    runtime_only = client_for(ready, client_id="rt", scopes=("runtime",))
    assert runtime_only.get("/v3/triggers/").status_code == 403


def test_events_are_paged_newest_first_by_the_last_event_id(api, ready):
    assert api.post("/v3/triggers/", start_trigger(), format="json").status_code == 201
    assert api.post("/v3/triggers/", start_trigger("other"), format="json").status_code == 201
    orders, other = Trigger.objects.get(trigger_id="orders"), Trigger.objects.get(trigger_id="other")
    ids = [TriggerEvent.objects.create(event_id=f"e{n}", tenant=ready, trigger=orders, status=EventStatus.DONE).event_id
           for n in range(5)]
    TriggerEvent.objects.create(event_id="x0", tenant=ready, trigger=other, status=EventStatus.DONE)
    pages, before = [], None
    for _ in range(5):  # bounded: a `before` that is ignored would serve the first page for ever
        params = {"limit": 2, **({"before": before} if before else {})}
        page = [event["eventId"] for event in api.get("/v3/triggers/orders/events", params).json()]
        if not page:
            break
        pages.append(page)
        before = page[-1]
    assert pages == [["e4", "e3"], ["e2", "e1"], ["e0"]] and sum(pages, []) == ids[::-1]
    # another trigger's event, unknown, a lone surrogate's bytes, not UTF-8, too long
    for bad in ("x0", "nope", "%ED%A0%80", "%FF", "e1" * 100):
        _problem(api.get(f"/v3/triggers/orders/events?before={bad}"), "$.query.before")
