"""One place that knows how Drift reaches Redis: a plain URL (REDIS_URL) or Redis Sentinel
(REDIS_SENTINELS + REDIS_SENTINEL_MASTER), for the cache, the invalidation pub/sub, the webhook slot
semaphores and the Celery broker.

With Sentinel every client asks the sentinels for the current master and asks again after a connection
error, so a failover needs no restart. Reads go to the master too (never a replica): an invalidation must
be seen by the next read.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import redis
import redis.sentinel
from django.conf import settings


def parse_sentinels(value: list[str] | tuple[str, ...]) -> list[tuple[str, int]]:
    """["host:port", ...] -> [(host, port), ...]; the port defaults to 26379."""
    sentinels = []
    for item in value:
        host, _, port = item.strip().rpartition(":") if ":" in item else (item.strip(), "", "26379")
        sentinels.append((host, int(port)))
    return sentinels


def cache_config(*, url: str, sentinels: list[str], master: str, db: int, options: dict[str, Any],
                 password: str = "") -> dict:
    """The django-redis CACHES["default"] entry for a plain URL or for Sentinel (`password`: the master's)."""
    if not sentinels:
        return {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": url, "OPTIONS": options,
                "KEY_PREFIX": "drift"}
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        # The host part of the URL is the Sentinel master name; the pool resolves it through the sentinels.
        "LOCATION": f"redis://{master}/{db}",
        "OPTIONS": {
            **options,
            **({"PASSWORD": password} if password else {}),
            "CLIENT_CLASS": "django_redis.client.DefaultClient",  # master only: no stale replica reads
            "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
            "SENTINELS": parse_sentinels(sentinels),
            "SENTINEL_KWARGS": {"socket_connect_timeout": options.get("SOCKET_CONNECT_TIMEOUT", 2),
                                "socket_timeout": options.get("SOCKET_TIMEOUT", 2)},
        },
        "KEY_PREFIX": "drift",
    }


SENTINEL_TRANSPORT = "drift.celery_sentinel:Transport"


def celery_broker(*, url: str, sentinels: list[str], master: str, db: int,
                  password: str = "") -> tuple[str, dict[str, Any], str | None]:
    """(broker_url, broker_transport_options, broker_transport) for Celery: kombu's sentinel transport
    (drift/celery_sentinel.py) under Sentinel."""
    if not sentinels:
        return url or "memory://", {}, None
    auth = f":{quote(password, safe='')}@" if password else ""  # the master's; kombu passes it on
    hosts = ";".join(f"sentinel://{auth}{host}:{port}/{db}" for host, port in parse_sentinels(sentinels))
    options = {"master_name": master, "sentinel_kwargs": {"socket_timeout": 2, "socket_connect_timeout": 2}}
    return hosts, options, SENTINEL_TRANSPORT


def redis_enabled() -> bool:
    return bool(settings.REDIS_URL or settings.REDIS_SENTINELS)


def new_client(**kwargs: Any) -> redis.Redis:
    """A dedicated client (not from the cache's pool), e.g. for a long-lived pub/sub subscription."""
    if settings.REDIS_SENTINELS:
        sentinel = redis.sentinel.Sentinel(
            parse_sentinels(settings.REDIS_SENTINELS),
            sentinel_kwargs={"socket_connect_timeout": 2, "socket_timeout": 2},
        )
        return sentinel.master_for(settings.REDIS_SENTINEL_MASTER, db=settings.REDIS_DB,
                                   password=settings.REDIS_PASSWORD or None, **kwargs)
    return redis.Redis.from_url(settings.REDIS_URL, **kwargs)


def shared_connection() -> redis.Redis | None:
    """The cache's own connection (pooled), or None without Redis."""
    if not redis_enabled():
        return None
    from django_redis import get_redis_connection

    return get_redis_connection("default")
