"""Host limits against a real Redis (the test session's): the wait bounded by the timeout, the slot released in
`finally`, a dead worker's slot expiring, and Redis down failing open or closed by the setting, never crashing."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
import redis
from pytest_httpserver import HTTPServer

from apps.nodes import host_limits
from apps.nodes import settings as node_settings
from apps.nodes.base import NodeError
from apps.nodes.host_limits import KEY_PREFIX, admitted
from apps.nodes.http_client import limited_send


@pytest.fixture
def host(settings) -> str:
    """A host name of this test alone, limited to 1 in flight and 1 request per second."""
    name = f"h-{uuid.uuid4().hex[:8]}.example"
    settings.DRIFT_HOST_LIMITS = {name: {"rate": 1, "inFlight": 1}}
    return name


def test_a_full_host_fails_the_call_within_its_timeout_and_frees_the_slot_after(host, settings):
    settings.DRIFT_HOST_LIMITS = {host: {"inFlight": 1}}
    with admitted(f"https://{host}/a", timeout=5) as waited:
        assert waited < 5
        with pytest.raises(NodeError) as refused, admitted(f"https://{host}/b", timeout=0.2):
            pass
    assert refused.value.retryable and f"host limit of {host}" in refused.value.message
    with admitted(f"https://{host}/c", timeout=5):  # released in `finally`: the host admits again
        pass


def test_the_rate_wait_beyond_the_timeout_fails_without_sleeping_it(host, settings):
    settings.DRIFT_HOST_LIMITS = {host: {"rate": 1}}
    with admitted(f"https://{host}/a", timeout=5):
        pass
    with pytest.raises(NodeError, match="within the node's timeout"), admitted(f"https://{host}/b", timeout=0.1):
        pass


def test_a_dead_workers_slot_expires(host, settings):
    settings.DRIFT_HOST_LIMITS = {host: {"inFlight": 1}}
    client = node_settings.redis_client()
    # What a worker killed mid-call leaves: its member, scored with an expiry now past.
    client.zadd(f"{KEY_PREFIX}:{host}:slots", {"dead-worker": int(time.time() * 1000) - 1})
    with admitted(f"https://{host}/a", timeout=0.5):
        pass


@pytest.fixture
def redis_down(monkeypatch) -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)  # nothing listens on port 1
    monkeypatch.setattr(node_settings, "redis_client", lambda: dead)


def test_redis_down_fails_open_by_default(redis_down, settings, httpserver: HTTPServer, caplog):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.DRIFT_HOST_LIMITS = {httpserver.host: {"rate": 1, "inFlight": 1}}
    httpserver.expect_request("/ok").respond_with_json({"ok": True})
    request = {"method": "GET", "url": httpserver.url_for("/ok"), "headers": {}, "params": {}, "data": None}
    # Read from the module's logger itself: a test before this one in the same process may have applied the
    # project's logging config, whose app loggers do not propagate to the root logger caplog listens on.
    # (dictConfig's disable_existing_loggers may also have disabled it: enabled for this test).
    logger = logging.getLogger(host_limits.__name__)
    logger.addHandler(caplog.handler)
    disabled, logger.disabled = logger.disabled, False
    try:
        with caplog.at_level(logging.WARNING, logger=host_limits.__name__):  # whatever level was left set
            assert limited_send(request, 5).status_code == 200
            assert limited_send(request, 5).status_code == 200  # no limit applied: called again at once
    finally:
        logger.removeHandler(caplog.handler)
        logger.disabled = disabled
    assert "Redis unavailable" in caplog.text and "DRIFT_HOST_LIMITS_ON_REDIS_DOWN=open" in caplog.text


def test_redis_down_fails_the_node_when_set_closed(redis_down, settings, httpserver: HTTPServer):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.DRIFT_HOST_LIMITS = {httpserver.host: {"inFlight": 1}}
    settings.DRIFT_HOST_LIMITS_ON_REDIS_DOWN = "closed"
    request = {"method": "GET", "url": httpserver.url_for("/ok"), "headers": {}, "params": {}, "data": None}
    with pytest.raises(NodeError, match="Redis unavailable") as failed:
        limited_send(request, 5)
    assert failed.value.retryable
    assert len(httpserver.log) == 0  # nothing was sent


def test_unlisted_hosts_never_touch_redis(redis_down, settings):
    settings.DRIFT_HOST_LIMITS = {}
    settings.DRIFT_HOST_LIMITS_ON_REDIS_DOWN = "closed"
    with admitted("https://unlimited.example/x", timeout=1) as waited:
        assert waited == 0.0


def test_a_malformed_setting_is_a_system_check_error(settings):
    from apps.nodes.apps import check_host_limits

    settings.DRIFT_HOST_LIMITS = {"api.example": {"rate": "fast", "inFlight": 0, "burts": 2}, "b.example": 5}
    settings.DRIFT_HOST_LIMITS_ON_REDIS_DOWN = "maybe"
    messages = [error.msg for error in check_host_limits()]
    assert messages == ["DRIFT_HOST_LIMITS: api.example.rate: must be a positive number",
                        "DRIFT_HOST_LIMITS: api.example.inFlight: must be a positive number",
                        "DRIFT_HOST_LIMITS: api.example: unknown keys ['burts']",
                        "DRIFT_HOST_LIMITS: b.example: must be an object",
                        "DRIFT_HOST_LIMITS: DRIFT_HOST_LIMITS_ON_REDIS_DOWN must be open or closed"]
    settings.DRIFT_HOST_LIMITS = {"api.example": {"rate": 5, "burst": 1, "inFlight": 2}}
    settings.DRIFT_HOST_LIMITS_ON_REDIS_DOWN = "closed"
    assert check_host_limits() == []
