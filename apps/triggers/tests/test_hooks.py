"""The inbound hook POST /v3/hooks/{tenant}/{id} (spec §13) through the real stack: REST in-process, a real
Celery worker (Redis broker), real Temporal and the live Drift worker."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.conf import settings as django_settings
from django.test import Client
from temporalio.client import Client as TemporalClient

from apps.runs.models import Run
from apps.triggers.models import EventStatus, TriggerEvent
from apps.triggers.services import event_deliver
from devtools.services import start_temporal
from devtools.testing.builders import state, wait_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.rest import wait_final, wait_for
from devtools.testing.triggers import (
    SECRET,
    SIGNATURE,
    event_trigger,
    hmac_auth,
    post_hook,
    publish_flows,
    put_secret,
    signed,
    start_trigger,
)
from drift.temporal import run_async

pytestmark = pytest.mark.temporal
ORDER = {"order": "A-1", "customer": {"name": "Ada"}}


@pytest.fixture
def shop(api, runs, tenant, settings) -> str:
    """`orders` (START greet) and `payments` (EVENT paid into `pay` runs) triggers of `tenant`."""
    settings.DRIFT_TRIGGER_BACKOFF_BASE_SECONDS = 0.2
    settings.DRIFT_TRIGGER_BACKOFF_MAX_SECONDS = 1
    publish_flows(tenant)
    put_secret(tenant)
    for body in (start_trigger(), event_trigger()):
        assert api.post("/v3/triggers/", body, format="json").status_code == 201
    return tenant


def _event(event_id: str) -> TriggerEvent:
    return TriggerEvent.objects.get(event_id=event_id)


def _settled(event_id: str) -> TriggerEvent:
    return wait_for(lambda: TriggerEvent.objects.exclude(status=EventStatus.PENDING).filter(event_id=event_id).first(),
                    f"event {event_id} to settle")


def test_a_signed_event_starts_the_mapped_run(shop, celery_worker):  # noqa: F811
    reply = post_hook(shop, "orders", ORDER, **{"X-Shop": "shop-9", "X-Event-Id": "e-1"})
    assert reply.status_code == 202, reply.json()
    body = reply.json()
    assert body["status"] == "PENDING" and body["workflowId"].startswith("trg-")
    run = wait_final(body["workflowId"])
    assert run.status == "COMPLETED" and run.tenant == shop and run.customer_id == "shop-9"
    assert run.start_request["start"]["params"] == {"who": "Ada", "orderRef": "A-1", "source": "shop",
                                                    "workflowId": "greet"}
    assert _settled(body["eventId"]).status == EventStatus.DONE
    stored = _event(body["eventId"])
    assert stored.headers["x-shop"] == "shop-9" and stored.body == ORDER and stored.attempts == 1


@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64, "sha256=deadbeef", "0" * 64, "sha256=é"])
def test_a_missing_or_wrong_signature_is_401_and_nothing_is_stored(shop, signature):
    reply = post_hook(shop, "orders", ORDER, signature=signature)
    assert reply.status_code == 401, reply.content
    assert not TriggerEvent.objects.filter(tenant=shop).exists()
    assert not Run.objects.filter(tenant=shop).exists()


def test_a_replayed_signature_with_an_old_timestamp_is_401(shop, api):
    trigger = start_trigger("stamped", auth=hmac_auth(timestampHeader="X-Shop-Timestamp", toleranceSeconds=60))
    assert api.post("/v3/triggers/", trigger, format="json").status_code == 201
    from apps.triggers.hook_auth import hmac_hex

    raw, _ = signed(ORDER)
    for stamp, expected in ((int(time.time()) - 3600, 401), ("abc", 401), (int(time.time()), 202)):
        signature = "sha256=" + hmac_hex(SECRET, raw, str(stamp))
        reply = Client().post(f"/v3/hooks/{shop}/stamped", data=raw, content_type="application/json",
                              headers={SIGNATURE: signature, "X-Shop-Timestamp": str(stamp)})
        assert reply.status_code == expected, (stamp, reply.content)
    assert TriggerEvent.objects.filter(tenant=shop).count() == 1


def test_token_auth_by_bearer_or_query(shop, api):
    put_secret(shop, "hook_token", "tok-123")
    trigger = start_trigger("tokened", auth={"kind": "TOKEN", "secret": "hook_token"})
    assert api.post("/v3/triggers/", trigger, format="json").status_code == 201
    url = f"/v3/hooks/{shop}/tokened"
    assert Client().post(url, ORDER, content_type="application/json",
                         headers={"Authorization": "Bearer tok-123"}).status_code == 202
    assert Client().post(f"{url}?token=tok-123", ORDER, content_type="application/json").status_code == 202
    assert Client().post(f"{url}?token=tok-124", ORDER, content_type="application/json").status_code == 401
    assert Client().post(url, ORDER, content_type="application/json").status_code == 401
    stored = TriggerEvent.objects.filter(tenant=shop)
    assert stored.count() == 2 and all("authorization" not in e.headers and "token" not in e.query for e in stored)


def test_bad_bodies_are_413_and_400_and_store_nothing(shop):
    huge = b'{"pad": "' + b"x" * (1024 * 1024) + b'"}'
    assert post_hook(shop, "orders", huge).status_code == 413
    for raw in (b"not json", b'{"a": NaN}', b'{"a": "\\ud800"}', b'{"a":' * 600 + b"1" + b"}" * 600, b""):
        reply = post_hook(shop, "orders", raw)
        assert reply.status_code == 400, (raw[:30], reply.content)
    assert not TriggerEvent.objects.filter(tenant=shop).exists()


def test_unknown_disabled_or_other_tenants_triggers_are_404(shop, api):
    assert post_hook(shop, "nope", ORDER).status_code == 404
    assert post_hook("t-someone-else", "orders", ORDER).status_code == 404
    assert api.put("/v3/triggers/orders", start_trigger(enabled=False), format="json").status_code == 200
    assert post_hook(shop, "orders", ORDER).status_code == 404


def test_a_path_missing_from_the_event_fails_the_event_with_the_path_and_starts_nothing(shop):
    reply = post_hook(shop, "orders", {"order": "A-1"}, **{"X-Shop": "s", "X-Event-Id": "e-2"})
    assert reply.status_code == 202
    body = reply.json()
    assert body["status"] == "FAILED" and "$.body.customer.name" in body["error"] and "workflowId" not in body
    event = _event(body["eventId"])
    assert event.status == EventStatus.FAILED and "$.body.customer.name" in event.error
    assert not Run.objects.filter(tenant=shop).exists()


def test_a_duplicate_is_answered_with_the_first_event_and_starts_nothing(shop, celery_worker):  # noqa: F811
    first = post_hook(shop, "orders", ORDER, **{"X-Shop": "s", "X-Event-Id": "dup-1"}).json()
    again = post_hook(shop, "orders", ORDER, **{"X-Shop": "s", "X-Event-Id": "dup-1"}).json()
    assert again["duplicate"] is True and again["eventId"] == first["eventId"]
    assert again["workflowId"] == first["workflowId"]
    wait_final(first["workflowId"])
    assert Run.objects.filter(tenant=shop).count() == 1
    statuses = sorted(TriggerEvent.objects.filter(tenant=shop).values_list("status", flat=True))
    assert statuses == [EventStatus.DONE, EventStatus.DUPLICATE]


def test_concurrent_identical_posts_start_one_run(shop, celery_worker):  # noqa: F811
    barrier = threading.Barrier(8)

    def send(_: int) -> dict:
        barrier.wait()
        return post_hook(shop, "orders", ORDER, **{"X-Shop": "s", "X-Event-Id": "race-1"}).json()

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(send, range(8)))
    assert len({reply["workflowId"] for reply in replies}) == 1
    assert sum(1 for reply in replies if not reply.get("duplicate")) == 1
    wait_final(replies[0]["workflowId"])
    assert Run.objects.filter(tenant=shop).count() == 1


def _waiting_payment(api, order_ref: str) -> str:
    started = api.post("/v3/workflow/start", {"params": {"workflowId": "pay", "orderRef": order_ref}}, format="json")
    assert started.json()["workflowStatus"] == "WAITING", started.json()
    return started.json()["workflowId"]


def test_an_event_trigger_resumes_the_one_waiting_run_that_matches(shop, api, runs, celery_worker):  # noqa: F811
    target, other = _waiting_payment(api, "A-1"), _waiting_payment(api, "B-2")
    reply = post_hook(shop, "payments", {"id": "pay-1", "order": "A-1", "amount": 42})
    assert reply.status_code == 202 and reply.json()["matched"] is True and reply.json()["workflowId"] == target
    assert wait_final(target).status == "COMPLETED"
    assert _settled(reply.json()["eventId"]).status == EventStatus.DONE
    assert Run.objects.get(workflow_id=other).status == "WAITING"
    missed = post_hook(shop, "payments", {"id": "pay-2", "order": "Z-9", "amount": 1}).json()
    assert missed["matched"] is False and "workflowId" not in missed
    assert _event(missed["eventId"]).status == EventStatus.NO_MATCH
    assert Run.objects.get(workflow_id=other).status == "WAITING"


def test_a_repeated_delivery_delivers_once(shop, api, runs, tenant):
    """A worker killed after the start / signal but before marking the event: the next attempt is harmless."""
    publish_definitions(tenant, [wait_node("await_shipping", waitType="ON_EVENT", eventName="shipped")], [
        workflow("pay_ship", "w", [state("w", "await_payment", "s"), state("s", "await_shipping", "done"),
                                   state("done")])])
    started = api.post("/v3/workflow/start", {"params": {"workflowId": "pay_ship", "orderRef": "C-3"}},
                       format="json").json()
    waiting = started["workflowId"]
    bound = event_trigger("ship-pay", workflow={"workflowDefinitionId": "pay_ship"})
    assert api.post("/v3/triggers/", bound, format="json").status_code == 201
    fed = post_hook(shop, "ship-pay", {"id": "pay-3", "order": "C-3", "amount": 7}).json()
    assert fed["matched"] is True, fed
    begun = post_hook(shop, "orders", ORDER, **{"X-Shop": "s", "X-Event-Id": "again-1"}).json()
    for reply in (fed, begun, fed, begun):  # the first delivery (no Celery worker here), then a repeat of each
        TriggerEvent.objects.filter(event_id=reply["eventId"]).update(status=EventStatus.PENDING)
        assert event_deliver(reply["eventId"]) is None
        assert _event(reply["eventId"]).status == EventStatus.DONE, _event(reply["eventId"]).error
    wait_for(lambda: Run.objects.get(workflow_id=waiting).current_node == "s", "the run to wait for shipping")
    assert _signals(runs, waiting) == 1, "the repeated delivery signalled the event twice"
    assert runs.run_count(begun["workflowId"]) == 1
    wait_final(begun["workflowId"])
    TriggerEvent.objects.filter(event_id=begun["eventId"]).update(status=EventStatus.PENDING)
    assert event_deliver(begun["eventId"]) is None  # a repeat after the started run ended: still done, no new run
    assert _event(begun["eventId"]).status == EventStatus.DONE and runs.run_count(begun["workflowId"]) == 1


def _signals(runs, workflow_id: str) -> int:
    async def count() -> int:
        history = await runs.client.get_workflow_handle(workflow_id).fetch_history()
        return sum(1 for event in history.events if event.HasField("workflow_execution_signaled_event_attributes"))

    return run_async(count())


def test_events_arriving_while_temporal_is_down_start_their_runs_once_it_is_back(shop, own_temporal, tmp_path,  # noqa: F811
                                                                                   celery_worker):  # noqa: F811
    server = own_temporal[0]
    server.stop()
    replies = [post_hook(shop, "orders", ORDER, **{"X-Shop": "s", "X-Event-Id": f"down-{n}"}) for n in range(3)]
    assert [reply.status_code for reply in replies] == [202] * 3
    ids = [reply.json()["eventId"] for reply in replies]
    wait_for(lambda: all(_event(event_id).attempts >= 1 for event_id in ids), "a failed attempt each")
    assert all(_event(event_id).status == EventStatus.PENDING for event_id in ids)

    own_temporal.append(start_temporal(tmp_path, port=server.port))
    for event_id in ids:
        assert wait_for(lambda e=event_id: _event(e).status != EventStatus.PENDING and _event(e),
                        "delivery after the outage", timeout=60).status == EventStatus.DONE
    client = run_async(TemporalClient.connect(own_temporal[-1].url, namespace=django_settings.TEMPORAL_NAMESPACE))
    for reply in replies:
        query = f"WorkflowId = '{reply.json()['workflowId']}'"
        assert run_async(_count(client, query)) == 1, "every run starts once"


async def _count(client, query: str) -> int:
    return len([run async for run in client.list_workflows(query)])


def test_signed_events_from_concurrent_senders_with_duplicates_start_exactly_the_right_runs(shop, api, live_server,
                                                                                           celery_worker):  # noqa: F811
    """Done-when at test size (the bench runs 1,000 events from 50 senders): 120 signed events, 12 of them
    repeats of earlier ones, from 12 concurrent senders over real HTTP; the runs are counted by search."""
    distinct, repeats, senders = 108, 12, 12
    ids = [f"load-{n}" for n in range(distinct)] + [f"load-{n}" for n in range(0, distinct, distinct // repeats)]
    session = requests.Session()

    def send(event_id: str) -> dict:
        raw, signature = signed({"order": event_id, "customer": {"name": "L"}})
        reply = session.post(f"{live_server.url}/v3/hooks/{shop}/orders", data=raw, timeout=30, headers={
            "Content-Type": "application/json", SIGNATURE: signature, "X-Shop": "s", "X-Event-Id": event_id})
        assert reply.status_code == 202, reply.text
        return reply.json()

    with ThreadPoolExecutor(senders) as pool:
        replies = list(pool.map(send, ids))
    assert sum(1 for reply in replies if reply.get("duplicate")) == repeats
    assert len({reply["workflowId"] for reply in replies}) == distinct

    def completed() -> int:
        page = api.get("/v3/workflow", {"workflowDefinitionId": "greet", "status": "COMPLETED", "limit": 200})
        return len(page.json()["items"])

    wait_for(lambda: completed() == distinct, f"{distinct} completed runs", timeout=120)
    assert Run.objects.filter(tenant=shop).count() == distinct
    outcomes = api.get("/v3/triggers/orders/events", {"limit": 500}).json()
    assert len(outcomes) == len(ids)
    assert sorted({event["status"] for event in outcomes}) == ["DONE", "DUPLICATE"]
