"""Per-receiver concurrency caps of webhook delivery: a Redis semaphore per callback host and per API client.

A receiver that answers slowly holds a Celery process for up to the delivery deadline; the caps bound how many
processes one host (or one client, whatever hosts it names) can hold at once, so the other tenants' deliveries
always find a free process. A delivery that finds its host or client at the cap is deferred (re-queued with a
countdown), not run. Each slot is a lease (a sorted-set member scored by its expiry, on Redis' clock), so a
process killed mid-delivery frees its slots when the lease runs out. Without Redis (eager local mode) there are
no caps; a Redis error lets the delivery through (availability first: the deadline still bounds it).

The slow lane: a host or client whose attempt was cut by the deadline is marked slow for a while
(`mark_slow`); while marked, its deliveries also need a slot of one shared semaphore, so all slow receivers
together hold at most DRIFT_WEBHOOK_MAX_IN_FLIGHT_SLOW processes, however many of them there are.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from django.conf import settings

from drift.redis_conn import shared_connection

logger = logging.getLogger(__name__)

KEY_PREFIX = "drift:webhooks:slots:"
SLOW_LANE = f"{KEY_PREFIX}slow-lane"

# KEYS: one sorted set per cap. ARGV: lease ms, token, then one cap per key. All slots or none.
_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local lease_ms = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now_ms)
  if redis.call('ZCARD', key) >= tonumber(ARGV[2 + i]) then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, now_ms + lease_ms, ARGV[2])
  redis.call('PEXPIRE', key, lease_ms)
end
return 1
"""


def receiver_keys(*, url: str, tenant: str, client_id: str) -> dict[str, int]:
    """The semaphores a delivery needs, with their caps: its host (and port) and its API client."""
    parts = urlsplit(url)
    host = f"{(parts.hostname or '').lower()}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    return {
        f"{KEY_PREFIX}host:{host}": int(settings.DRIFT_WEBHOOK_MAX_IN_FLIGHT_PER_HOST),
        f"{KEY_PREFIX}client:{tenant}/{client_id}": int(settings.DRIFT_WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT),
    }


def _redis():
    return shared_connection()  # plain URL or Sentinel (the pool follows a failover)


@contextmanager
def receiver_slots(caps: dict[str, int], lease_seconds: float) -> Iterator[bool]:
    """Yield True holding one slot of every semaphore in `caps` (released on exit), False if any is full."""
    redis = _redis()
    if redis is None:
        yield True
        return
    token = uuid.uuid4().hex
    try:
        if redis.exists(*(_slow_flag(key) for key in caps)):
            caps = {**caps, SLOW_LANE: int(settings.DRIFT_WEBHOOK_MAX_IN_FLIGHT_SLOW)}
        acquired = bool(redis.eval(_ACQUIRE, len(caps), *caps, int(lease_seconds * 1000), token, *caps.values()))
    except Exception:  # any Redis failure: deliver uncapped rather than not at all
        logger.warning("webhook slot semaphore unavailable; delivering without a cap", exc_info=True)
        yield True
        return
    try:
        yield acquired
    finally:
        if acquired:
            _release(redis, caps, token)


def _release(redis, caps: dict[str, int], token: str) -> None:
    try:
        with redis.pipeline(transaction=False) as pipe:
            for key in caps:
                pipe.zrem(key, token)
            pipe.execute()
    except Exception:  # the lease expires on its own
        logger.warning("could not release webhook slots; their lease will expire", exc_info=True)


def _slow_flag(key: str) -> str:
    return f"{key}:slow"


def mark_slow(caps: dict[str, int]) -> None:
    """Send the deliveries of these receivers (host and client) through the slow lane for a while."""
    redis = _redis()
    if redis is None:
        return
    seconds = int(settings.DRIFT_WEBHOOK_SLOW_MARK_SECONDS)
    try:
        with redis.pipeline(transaction=False) as pipe:
            for key in caps:
                if key != SLOW_LANE:
                    pipe.set(_slow_flag(key), 1, ex=seconds)
            pipe.execute()
    except Exception:  # without the mark, the per-host and per-client caps still hold
        logger.warning("could not mark a slow webhook receiver", exc_info=True)
