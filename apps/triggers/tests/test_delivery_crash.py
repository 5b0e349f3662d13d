"""The Celery worker killed mid-delivery (spec §13, issue 24): the event is still delivered, once.

A real worker process (apps/triggers/tests/delivery_gate_worker.py) takes the delivery task from the session's
Redis, starts the run, and blocks before marking the event; it is SIGKILLed there. The task was acked late
(CELERY_TASK_ACKS_LATE), so Redis still holds it: a new worker gets it back once the broker's visibility timeout
has passed (0 here; CELERY_BROKER_VISIBILITY_TIMEOUT in the deployment), and delivers it: the run is found
started under the id chosen when the event was stored. One run, one DONE event; a further repeat (the beat's
stale sweep) changes nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from django.conf import settings as django_settings

from apps.runs.models import Run
from apps.triggers.models import EventStatus, TriggerEvent
from apps.triggers.tasks import deliver_trigger_event
from devtools.testing.processes import ROOT, child_env
from devtools.testing.rest import wait_final, wait_for
from devtools.testing.triggers import post_hook, publish_flows, put_secret, start_trigger

pytestmark = [pytest.mark.temporal, pytest.mark.serial]


@pytest.fixture
def broker(settings):
    """Celery through the session's Redis (not eager): the task goes to whichever real worker takes it."""
    from drift.celery import app

    settings.DRIFT_TRIGGER_BACKOFF_BASE_SECONDS = 0.2
    app.conf.task_always_eager = False
    app.conf.broker_url = django_settings.CELERY_BROKER_URL
    assert app.conf.broker_url.startswith("redis://")
    options = dict(app.conf.broker_transport_options or {})
    yield app
    app.conf.broker_transport_options = options


def test_a_worker_killed_mid_delivery_leaves_the_event_delivered_once(api, runs, tenant, broker, settings, tmp_path):
    publish_flows(tenant)
    put_secret(tenant)
    assert api.post("/v3/triggers/", start_trigger(), format="json").status_code == 201
    marker = tmp_path / "started"
    gated = subprocess.Popen([sys.executable, "-m", "apps.triggers.tests.delivery_gate_worker", str(marker)],
                             cwd=ROOT, env=child_env(), start_new_session=True)
    try:
        posted = post_hook(tenant, "orders", {"order": "K-1", "customer": {"name": "Kim"}},
                           **{"X-Shop": "s", "X-Event-Id": "kill-1"})
        assert posted.status_code == 202, posted.json()
        started = wait_for(lambda: marker.exists() and marker.read_text(), "the worker to stop mid-delivery", 120)
    finally:
        os.killpg(gated.pid, signal.SIGKILL)
        gated.wait()
    event = TriggerEvent.objects.get(event_id=posted.json()["eventId"])
    assert started == event.workflow_id
    assert (event.status, event.attempts) == (EventStatus.PENDING, 1)  # the run started, the event never marked
    assert runs.run_count(event.workflow_id) == 1

    assert _unacked(broker) == 1  # acked late: Redis still holds the task the dead worker took

    from celery.contrib.testing.worker import start_worker

    broker.conf.broker_transport_options = {**(broker.conf.broker_transport_options or {}), "visibility_timeout": 0}
    with start_worker(broker, perform_ping_check=False, pool="solo", shutdown_timeout=10):
        delivered = wait_for(lambda: TriggerEvent.objects.filter(pk=event.pk, status=EventStatus.DONE).first(),
                             "the task to come back and deliver the event", 120)
        assert (delivered.attempts, delivered.error) == (2, "")
        # And a repeat besides (the beat's stale sweep, had it run first): nothing more happens.
        deliver_trigger_event.delay(event.event_id)
        wait_for(lambda: not _unacked(broker) and not _queued(broker), "the repeat to be taken and acked", 60)
    assert wait_final(event.workflow_id).status == "COMPLETED"
    assert runs.run_count(event.workflow_id) == 1, "the run started twice"
    assert Run.objects.filter(tenant=tenant).count() == 1
    assert TriggerEvent.objects.get(pk=event.pk).attempts == 2


def _unacked(app) -> int:
    """Tasks taken by a worker and not acked yet (kombu's Redis transport keeps them in the `unacked` hash)."""
    with app.connection_for_read() as connection:
        return connection.default_channel.client.hlen("unacked")


def _queued(app) -> int:
    with app.connection_for_read() as connection:
        return connection.default_channel.client.llen("celery")
