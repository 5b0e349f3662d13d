"""Redis Sentinel (issue 11): a real master, a replica and three sentinels; the master is killed mid-load.

Definition reads (another process, through its own two-layer cache), cache invalidation and webhook
delivery (a real Celery worker on kombu's sentinel transport, slot semaphores through Sentinel) must keep
working across the failover, and nothing written may be lost.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from werkzeug import Request, Response

from apps.definitions import services as definitions
from apps.definitions.models import Kind
from apps.runs.models import DeliveryStatus, Run, RunMode, WebhookDelivery
from apps.runs.tasks import redeliver_stale_webhooks
from apps.runs.webhooks.delivery import DELIVERY_HEADER, webhook_notify
from devtools import services
from devtools.testing.cache_reader import NODE, TENANT, Reader
from drift.redis_conn import cache_config, celery_broker

MASTER = "drift-test"
WRITES = 24
KILL_AT = 8  # the master dies after this many writes


@dataclass
class Cluster:
    master: services.Service
    replica: services.Service
    sentinels: list[services.Service]

    @property
    def addresses(self) -> list[str]:
        return [sentinel.url for sentinel in self.sentinels]

    def current_master_port(self) -> int:
        for sentinel in self.sentinels:
            try:
                _, port = redis.Redis(port=sentinel.port, socket_timeout=1).sentinel_get_master_addr_by_name(MASTER)
                return int(port)
            except redis.RedisError:
                continue
        raise AssertionError("no sentinel answers")

    def stop(self) -> None:
        for service in (*self.sentinels, self.replica, self.master):
            service.stop()


def _until(check, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    master = services.start_redis(tmp_path / "master")
    replica = services.start_redis_replica(tmp_path, master.port)
    sentinels = [services.start_redis_sentinel(tmp_path, MASTER, master.port, name=f"sentinel-{i}")
                 for i in range(3)]
    made = Cluster(master, replica, sentinels)
    try:
        replica_client = redis.Redis(port=replica.port)
        _until(lambda: replica_client.info("replication")["master_link_status"] == "up", "the replica to sync")
        # A failover needs every sentinel to know the replica and a quorum of its peers.
        _until(lambda: all(len(redis.Redis(port=s.port).sentinel_sentinels(MASTER)) == 2
                           and len(redis.Redis(port=s.port).sentinel_slaves(MASTER)) == 1 for s in sentinels),
               "the sentinels to discover each other and the replica")
        yield made
    finally:
        made.stop()


@contextmanager
def _celery_through(cluster: Cluster) -> Iterator[None]:
    """A real Celery worker (two threads) whose broker is reached through the sentinels."""
    from celery.contrib.testing.worker import start_worker

    from drift.celery import app

    keys = ("broker_url", "broker_transport_options", "broker_transport", "task_always_eager")
    saved = {key: app.conf[key] for key in keys}
    broker = celery_broker(url="", sentinels=cluster.addresses, master=MASTER, db=0)
    app.conf.update(dict(zip(keys, (*broker, False), strict=True)))
    app._pool, app.amqp._producer_pool = None, None  # producers bound to the session's broker
    try:
        with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        app.conf.update(saved)
        app._pool, app.amqp._producer_pool = None, None


@pytest.fixture
def through_sentinel(settings, cluster: Cluster) -> Cluster:
    settings.REDIS_URL = ""
    settings.REDIS_SENTINELS = cluster.addresses
    settings.REDIS_SENTINEL_MASTER = MASTER
    settings.CACHES = {"default": cache_config(url="", sentinels=cluster.addresses, master=MASTER, db=0,
                                               options={"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1,
                                                        "IGNORE_EXCEPTIONS": True})}
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]  # the receiver is local
    settings.DRIFT_WEBHOOK_BACKOFF_BASE_SECONDS = 0.2
    settings.DRIFT_WEBHOOK_BACKOFF_MAX_SECONDS = 1
    settings.DRIFT_WEBHOOK_STALE_SECONDS = 2
    return cluster


def _notify(url: str) -> str:
    """A COMPLETED webhook of a fresh ASYNC run, recorded and enqueued as the persist activity does."""
    run = Run.objects.create(workflow_id=f"w-{uuid.uuid4().hex[:12]}", tenant=TENANT, client_id="tests",
                             definition_key="done", mode=RunMode.ASYNC, callback_url=url)
    return webhook_notify(run=run, response={"workflowId": run.workflow_id, "workflowStatus": "COMPLETED"}
                          ).delivery_id


def _save(comment: str, create: bool = False) -> None:
    definitions.definition_save_snapshot(tenant=TENANT, kind=Kind.NODE, body={**NODE, "comment": comment},
                                         actor="tests", create=create)


@pytest.mark.serial  # a failover and its webhook retries are timed by Sentinel: run alone (scripts/test)
@pytest.mark.django_db(transaction=True)
def test_definitions_invalidation_and_webhooks_survive_a_master_failover(through_sentinel, httpserver):
    cluster = through_sentinel
    received: set[str] = set()

    def receive(request: Request) -> Response:
        received.add(request.headers[DELIVERY_HEADER])
        return Response("ok")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(receive)
    url = httpserver.url_for("/hook")
    _save("v0", create=True)
    reader = Reader(REDIS_SENTINELS=",".join(cluster.addresses), REDIS_SENTINEL_MASTER=MASTER, REDIS_URL="")
    deliveries: list[str] = []
    seen: list[int] = []
    old_master = cluster.master.port
    try:
        with _celery_through(cluster):
            for i in range(1, WRITES + 1):
                if i == KILL_AT:
                    cluster.master.kill()
                _save(f"v{i}")
                deliveries.append(_notify(url))
                seen.append(int(reader.read()["snapshot"]["comment"][1:]))  # reads never fail
            _until(lambda: cluster.current_master_port() != old_master, "the sentinels to promote the replica")

            # Invalidation after the failover: the reader serves its own memory until told otherwise.
            _until(lambda: reader.read()["snapshot"]["comment"] == f"v{WRITES}", "the last write before failover")
            before = reader.read()["stats"]
            assert reader.read()["stats"]["local_hits"] > before["local_hits"]
            _save("after-failover")
            _until(lambda: reader.read()["snapshot"]["comment"] == "after-failover", "the invalidation message")

            # Nothing lost: every delivery reaches the receiver (the stale sweep covers enqueues the
            # failover swallowed, as Celery beat does every minute).
            def all_delivered() -> bool:
                pending = WebhookDelivery.objects.exclude(status=DeliveryStatus.DELIVERED)
                if pending.filter(delivery_id__in=deliveries).exists():
                    redeliver_stale_webhooks()
                    return False
                return True

            _until(all_delivered, "every webhook delivery", seconds=60)
    finally:
        reader.close()
    assert received == set(deliveries)
    assert seen == sorted(seen), f"a read went back in time: {seen}"
    assert cluster.current_master_port() == cluster.replica.port
