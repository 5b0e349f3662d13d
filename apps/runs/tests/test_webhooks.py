"""ASYNC runs notify their callback through a real Celery worker (in-process thread, Redis broker)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from werkzeug import Request, Response

from apps.clients.models import ApiClient
from apps.runs.models import DeliveryStatus, WebhookDelivery
from apps.runs.tests.rest import start, start_order, wait_for
from conftest import publish_definitions
from worker.tests.builders import state, success_node, workflow

pytestmark = pytest.mark.temporal


@pytest.fixture
def celery_worker(settings) -> Iterator[None]:
    from celery.contrib.testing.worker import start_worker

    from drift.celery import app

    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the receiver is local; webhooks obey the SSRF guard
    settings.DRIFT_WEBHOOK_BACKOFF_BASE_SECONDS = 0.2
    settings.DRIFT_WEBHOOK_BACKOFF_MAX_SECONDS = 1
    app.conf.task_always_eager = False
    app.conf.broker_url = django_settings.CELERY_BROKER_URL
    assert app.conf.broker_url.startswith("redis://")
    with start_worker(app, perform_ping_check=False, pool="solo", shutdown_timeout=10):
        yield


class Receiver:
    """A webhook endpoint on the test HTTP server; `fail_first` answers 500 that many times first."""

    def __init__(self, httpserver, path: str, fail_first: int = 0) -> None:
        self.url = httpserver.url_for(path)
        self.fail_first = fail_first
        self.calls: list[tuple[bytes, dict[str, str]]] = []
        httpserver.expect_request(path, method="POST").respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.calls.append((request.get_data(), dict(request.headers)))
        return Response("no", status=500) if len(self.calls) <= self.fail_first else Response("ok", status=200)

    def events(self) -> list[str]:
        return [json.loads(body)["event"] for body, _ in self.calls]


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


def test_webhook_urls_obey_the_ssrf_policy(api, runs, tenant, httpserver, settings, celery_worker):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = []
    settings.DRIFT_WEBHOOK_MAX_ATTEMPTS = 1
    _one_step_flow(tenant)
    receiver = Receiver(httpserver, "/internal")
    workflow_id = start(api, params={"workflowId": "quick"}, mode="ASYNC", callbackUrl=receiver.url).json()[
        "workflowId"]
    delivery = wait_for(lambda: _delivered(workflow_id, "COMPLETED"), "the refused delivery")
    assert delivery.status == DeliveryStatus.FAILED
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
    WebhookDelivery.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=5))

    assert redeliver_stale_webhooks() == 1
    delivered = wait_for(lambda: _delivered(run.workflow_id, "COMPLETED"), "the swept delivery")
    assert delivered.status == DeliveryStatus.DELIVERED
    assert receiver.events() == ["COMPLETED"]
    fresh.refresh_from_db()
    assert (fresh.status, fresh.attempts) == (DeliveryStatus.PENDING, 0)  # young enough to be in flight
