"""ASYNC runs notify their callback through a real Celery worker (in-process thread, Redis broker)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django_redis import get_redis_connection

from apps.clients.models import ApiClient
from apps.runs.models import DeliveryStatus, Run, WebhookDelivery
from apps.runs.tasks import deliver_webhook
from apps.runs.webhooks.slots import KEY_PREFIX
from devtools.testing.builders import state, success_node, workflow
from devtools.testing.definitions import publish_definitions
from devtools.testing.receivers import Receiver
from devtools.testing.rest import start, start_order, wait_for
from devtools.testing.slow_receiver import SlowReceiver

pytestmark = pytest.mark.temporal


@pytest.fixture
def slow_receivers() -> Iterator[Callable[..., SlowReceiver]]:
    made: list[SlowReceiver] = []

    def make(**options: Any) -> SlowReceiver:
        made.append(SlowReceiver(**options))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()
    redis = get_redis_connection("default")  # slots and slow marks of this test's ports must not outlive it
    for key in redis.scan_iter(f"{KEY_PREFIX}*"):
        redis.delete(key)


def _delivered(workflow_id: str, event: str) -> WebhookDelivery | None:
    return WebhookDelivery.objects.filter(run__workflow_id=workflow_id, event=event,
                                          status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.FAILED]).first()


def _signature_ok(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Drift-Signature"])


def test_async_run_posts_signed_waiting_and_completed_callbacks(api, samples, tenant, httpserver, celery_worker):
    receiver = Receiver(httpserver, "/hook")
    accepted = start_order(api, "1", mode="ASYNC", callbackUrl=receiver.url)
    assert accepted.status_code == 202, accepted.json()
    workflow_id = accepted.json()["workflowId"]
    wait_for(lambda: _delivered(workflow_id, "WAITING"), "the WAITING callback")

    done = api.put(f"/v3/workflow/resume/{workflow_id}", {"viewResponse": {"selectedOptions": {"reason": "DAMAGED"}}},
                   format="json")
    assert done.json()["workflowStatus"] == "COMPLETED"
    wait_for(lambda: _delivered(workflow_id, "COMPLETED"), "the COMPLETED callback")

    assert receiver.events() == ["WAITING", "COMPLETED"]
    secret = ApiClient.objects.get(tenant=tenant, client_id="tests").webhook_secret
    for body, headers in receiver.calls:
        payload = json.loads(body)
        assert _signature_ok(secret, body, headers)
        assert headers["X-Drift-Delivery"] == payload["deliveryId"]
        assert payload["workflowId"] == workflow_id and payload["timestamp"]
    waiting, completed = (json.loads(body) for body, _ in receiver.calls)
    assert (waiting["workflowStatus"], waiting["view"]["layoutId"]) == ("WAITING", "return_form")
    assert completed["workflowStatus"] == "COMPLETED"
    assert WebhookDelivery.objects.get(delivery_id=completed["deliveryId"]).attempt_log.count() == 1


def _delivery(tenant: str, url: str, client_id: str = "tests") -> WebhookDelivery:
    """A COMPLETED delivery of a fresh run, as the persist activity records it (not yet enqueued)."""
    run = Run.objects.create(workflow_id=f"w-{uuid.uuid4().hex[:12]}", tenant=tenant, client_id=client_id,
                             definition_key="x")
    return WebhookDelivery.objects.create(delivery_id=uuid.uuid4().hex, run=run, event="COMPLETED", url=url,
                                          payload={"event": "COMPLETED", "workflowId": run.workflow_id})


def _one_step_flow(tenant: str) -> None:
    publish_definitions(tenant, [success_node()], [workflow("quick", "done", [state("done")])])


def test_failing_receiver_is_retried_until_it_accepts(api, runs, tenant, httpserver, celery_worker):
    _one_step_flow(tenant)
    receiver = Receiver(httpserver, "/flaky", fail_first=2)
    accepted = start(api, params={"workflowId": "quick"}, mode="ASYNC", callbackUrl=receiver.url)
    workflow_id = accepted.json()["workflowId"]
    delivery = wait_for(lambda: _delivered(workflow_id, "COMPLETED"), "the COMPLETED delivery")
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)
    assert list(delivery.attempt_log.values_list("number", "status_code")) == [(1, 500), (2, 500), (3, 200)]
    assert delivery.attempt_log.get(number=1).error == "no"
    assert len({body for body, _ in receiver.calls}) == 1  # every attempt carries the same signed body


def test_delivery_gives_up_after_max_attempts_and_uses_the_client_default_url(api, runs, tenant, httpserver,
                                                                               settings, celery_worker):
    settings.DRIFT_WEBHOOK_MAX_ATTEMPTS = 2
    _one_step_flow(tenant)
    receiver = Receiver(httpserver, "/down", fail_first=99)
    ApiClient.objects.filter(tenant=tenant, client_id="tests").update(callback_url=receiver.url)
    workflow_id = start(api, params={"workflowId": "quick"}, mode="ASYNC").json()["workflowId"]
    delivery = wait_for(lambda: _delivered(workflow_id, "COMPLETED"), "the delivery to fail")
    assert (delivery.status, delivery.attempts, delivery.url) == (DeliveryStatus.FAILED, 2, receiver.url)
    assert len(receiver.calls) == 2


def test_a_callback_url_the_guard_refuses_is_a_400_at_start(api, runs, tenant, httpserver, settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = []
    _one_step_flow(tenant)
    receiver = Receiver(httpserver, "/internal")
    refused = start(api, params={"workflowId": "quick"}, mode="ASYNC", callbackUrl=receiver.url)
    assert refused.status_code == 400, refused.json()
    assert [d["path"] for d in refused.json()["details"]] == ["$.callbackUrl"]
    assert "127.0.0.1" not in refused.content.decode()  # how hosts resolve is not the caller's business
    assert not Run.objects.filter(tenant=tenant).exists()
    assert receiver.calls == []


def test_a_refused_address_fails_the_delivery_at_once_without_retries(runs, tenant, httpserver, settings,
                                                                      celery_worker):
    """E.g. the client's default URL, set while the policy allowed it: refused for good, not retried 8 times."""
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = []
    receiver = Receiver(httpserver, "/internal")
    delivery = _delivery(tenant, receiver.url)
    deliver_webhook.delay(delivery.delivery_id)
    delivery = wait_for(lambda: _delivered(delivery.run.workflow_id, "COMPLETED"), "the refused delivery")
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)
    assert "loopback" in delivery.attempt_log.get().error
    assert receiver.calls == []


def test_sync_runs_send_no_webhooks(api, runs, tenant, httpserver):
    _one_step_flow(tenant)
    receiver = Receiver(httpserver, "/never")
    response = start(api, params={"workflowId": "quick"}, callbackUrl=receiver.url)
    assert response.json()["workflowStatus"] == "COMPLETED"
    assert not WebhookDelivery.objects.filter(run__workflow_id=response.json()["workflowId"]).exists()


def test_a_lost_delivery_task_is_re_enqueued_by_the_periodic_sweep(runs, tenant, httpserver, celery_worker):
    """A crash between the state commit and the broker hand-over leaves a PENDING row: the sweep sends it."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.runs.models import Run
    from apps.runs.tasks import redeliver_stale_webhooks

    receiver = Receiver(httpserver, "/late")
    run = Run.objects.create(workflow_id=f"lost-{tenant}", tenant=tenant, client_id="tests", definition_key="x")
    fresh = WebhookDelivery.objects.create(delivery_id=f"fresh-{tenant}", run=run, event="WAITING",
                                           url=receiver.url, payload={"event": "WAITING"})
    lost = WebhookDelivery.objects.create(delivery_id=f"lost-{tenant}", run=run, event="COMPLETED",
                                          url=receiver.url, payload={"event": "COMPLETED"})
    WebhookDelivery.objects.filter(pk=lost.pk).update(next_attempt_at=timezone.now() - timedelta(minutes=5))

    assert redeliver_stale_webhooks() == 1
    delivered = wait_for(lambda: _delivered(run.workflow_id, "COMPLETED"), "the swept delivery")
    assert delivered.status == DeliveryStatus.DELIVERED
    assert receiver.events() == ["COMPLETED"]
    fresh.refresh_from_db()
    assert (fresh.status, fresh.attempts) == (DeliveryStatus.PENDING, 0)  # young enough to be in flight


@pytest.mark.parametrize(("status", "drip", "ends"), [
    (200, "body", DeliveryStatus.DELIVERED),  # a 2xx answer counts at its status line; its body is never read
    (500, "body", DeliveryStatus.FAILED),  # a refusal's body is read only until the deadline (and 1 KiB)
    (200, "headers", DeliveryStatus.FAILED),  # headers dripping past the deadline
], ids=["2xx-dripping-body", "5xx-dripping-body", "dripping-headers"])
def test_a_dripping_receiver_cannot_hold_a_delivery_past_its_deadline(status, drip, ends, transactional_db, tenant,
                                                                     settings, slow_receivers, celery_worker):
    settings.DRIFT_WEBHOOK_TIMEOUT_SECONDS = 1  # also the per-read timeout: every dripped byte comes well within it
    settings.DRIFT_WEBHOOK_MAX_ATTEMPTS = 1
    receiver = slow_receivers(status=status, drip=drip, total=40, interval=0.25)  # a whole answer takes 10 s
    delivery = _delivery(tenant, receiver.url)
    deliver_webhook.delay(delivery.delivery_id)
    delivery = wait_for(lambda: _delivered(delivery.run.workflow_id, "COMPLETED"), "the delivery to end")
    wait_for(lambda: receiver.outcomes, "the receiver to finish or be cut off")
    assert receiver.outcomes == ["cut"]  # Drift hung up before the answer was complete
    assert delivery.status == ends
    attempt = delivery.attempt_log.get()
    if ends == DeliveryStatus.FAILED:
        assert "cut off by the 1 s delivery deadline" in attempt.error
    assert attempt.status_code == (None if drip == "headers" else status)


def test_a_slow_receiver_cannot_starve_the_other_clients(transactional_db, tenant, settings, httpserver,
                                                         slow_receivers, celery_pool):
    """Two Celery workers; a receiver that holds every caller: its host and client get one worker, never both."""
    settings.DRIFT_WEBHOOK_TIMEOUT_SECONDS = 120  # only the slots can keep a worker free here
    settings.DRIFT_WEBHOOK_MAX_IN_FLIGHT_PER_HOST = settings.DRIFT_WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT = 1
    slow = slow_receivers(drip="headers", total=100_000, interval=0.25)
    held = [_delivery(tenant, slow.url, client_id="slow") for _ in range(3)]
    for delivery in held:
        deliver_webhook.delay(delivery.delivery_id)
    wait_for(lambda: slow.open, "the slow receiver to hold a delivery")

    fast = Receiver(httpserver, "/fast")
    other = _delivery(f"{tenant}-b", fast.url, client_id="fast")
    deliver_webhook.delay(other.delivery_id)
    assert wait_for(lambda: _delivered(other.run.workflow_id, "COMPLETED"), "the other client's delivery").status \
        == DeliveryStatus.DELIVERED
    assert (slow.open, slow.max_open, slow.outcomes) == (1, 1, [])  # still held, and never by two workers

    slow.release()
    finished = WebhookDelivery.objects.filter(pk__in=[d.pk for d in held], status=DeliveryStatus.DELIVERED)
    wait_for(lambda: finished.count() == 3, "the slow client's deliveries, one at a time", timeout=90)
    assert slow.max_open == 1
    assert all(d.attempts == 1 for d in finished)  # waiting for a slot spends no attempt


def test_receivers_cut_by_the_deadline_share_one_slow_lane(transactional_db, tenant, settings, httpserver,
                                                           slow_receivers, celery_pool):
    """Two slow clients on two hosts (each within its own caps) would hold both workers; once the deadline has
    cut them, they share the slow lane (one worker) and the other clients keep the other."""
    settings.DRIFT_WEBHOOK_MAX_IN_FLIGHT_PER_HOST = settings.DRIFT_WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT = 1
    settings.DRIFT_WEBHOOK_MAX_IN_FLIGHT_SLOW = 1
    settings.DRIFT_WEBHOOK_MAX_ATTEMPTS = 1
    settings.DRIFT_WEBHOOK_TIMEOUT_SECONDS = 1
    slow = {name: slow_receivers(drip="headers", total=100_000, interval=0.25) for name in ("a", "b")}
    first = {name: _delivery(tenant, receiver.url, client_id=name) for name, receiver in slow.items()}
    for delivery in first.values():
        deliver_webhook.delay(delivery.delivery_id)
    for delivery in first.values():  # cut by the deadline: both receivers are now marked slow
        assert "deadline" in wait_for(lambda d=delivery: _delivered(d.run.workflow_id, "COMPLETED"),
                                      "the first, cut, delivery").attempt_log.get().error
    wait_for(lambda: all(receiver.outcomes == ["cut"] for receiver in slow.values()), "the receivers to see the cut")

    settings.DRIFT_WEBHOOK_TIMEOUT_SECONDS = 120  # from now on a slow receiver holds its worker until released
    held = [_delivery(tenant, receiver.url, client_id=name) for name, receiver in slow.items()]
    for delivery in held:
        deliver_webhook.delay(delivery.delivery_id)
    wait_for(lambda: any(receiver.open for receiver in slow.values()), "a slow receiver to hold a worker")
    fast = Receiver(httpserver, "/fast")
    other = _delivery(f"{tenant}-b", fast.url, client_id="fast")
    deliver_webhook.delay(other.delivery_id)
    assert wait_for(lambda: _delivered(other.run.workflow_id, "COMPLETED"), "the other client's delivery").status \
        == DeliveryStatus.DELIVERED
    assert sum(receiver.open for receiver in slow.values()) == 1  # the slow lane: one worker for both
    for receiver in slow.values():
        receiver.release()
    wait_for(lambda: WebhookDelivery.objects.filter(pk__in=[d.pk for d in held], status=DeliveryStatus.DELIVERED)
             .count() == 2, "the slow deliveries once released", timeout=90)


def test_the_delivery_task_has_time_limits_past_its_deadline():
    """The backstop when a delivery hangs anyway: Celery's soft limit raises in the task, the hard one kills it."""
    from apps.runs.tasks import HARD_TIME_LIMIT, SOFT_TIME_LIMIT

    assert deliver_webhook.soft_time_limit == SOFT_TIME_LIMIT > django_settings.DRIFT_WEBHOOK_TIMEOUT_SECONDS
    assert deliver_webhook.time_limit == HARD_TIME_LIMIT > SOFT_TIME_LIMIT


def _docs_verify() -> Callable[[str, bytes, str], bool]:
    """The verification example of docs/runtime-api.md, run as written."""
    text = (Path(django_settings.BASE_DIR) / "docs" / "runtime-api.md").read_text()
    code = text.split("### Verifying a webhook", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # our own documentation
    return namespace["verify"]


def test_a_client_rotates_its_secret_and_sets_its_default_url_then_verifies_the_webhook(
        api, runs, tenant, httpserver, celery_worker):
    _one_step_flow(tenant)
    receiver = Receiver(httpserver, "/default")
    old_secret = ApiClient.objects.get(tenant=tenant, client_id="tests").webhook_secret
    rotated = api.post("/v3/client/webhook/rotate-secret")
    assert rotated.status_code == 200, rotated.json()
    secret = rotated.json()["webhookSecret"]
    assert secret != old_secret and len(secret) == 64
    updated = api.patch("/v3/client/webhook", {"callbackUrl": receiver.url}, format="json")
    assert updated.json() == {"callbackUrl": receiver.url, "webhookSecretSet": True}
    assert secret not in api.get("/v3/client/webhook").content.decode()  # shown once, by the rotation only

    workflow_id = start(api, params={"workflowId": "quick"}, mode="ASYNC").json()["workflowId"]
    wait_for(lambda: _delivered(workflow_id, "COMPLETED"), "the COMPLETED callback")
    [(body, headers)] = receiver.calls
    verify = _docs_verify()
    assert verify(secret, body, headers["X-Drift-Signature"])
    assert not verify(old_secret, body, headers["X-Drift-Signature"])
    assert not verify(secret, body + b" ", headers["X-Drift-Signature"])
