"""Two-layer cache for definitions, routes and the enum store: an in-process LRU in front of Django's
cache (Redis when REDIS_URL or REDIS_SENTINELS is set).

Numbered versions are immutable, so they are cached without expiry. Mutable entries (SNAPSHOT bodies,
LATEST/ACTIVE heads, routes, enum stores) are dropped on change: the writer deletes the shared keys and
publishes the keys on DRIFT_CACHE_INVALIDATION_CHANNEL; a daemon subscriber thread in every process
drops its local copies at once. Mutable entries are kept locally only while that subscriber is
connected (an invalidation missed while disconnected could leave them stale forever), and they also
expire after DRIFT_SNAPSHOT_CACHE_SECONDS as a backstop.

An invalidation that cannot reach Redis (an outage, a Sentinel failover) is kept and sent again, before the
next cache read and whenever the subscriber reconnects, so a shared entry deleted on a master that died
cannot come back from its replica for the whole TTL. Under Sentinel the delete also waits (briefly) for a
replica to acknowledge it, for the same reason.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.db import transaction

from drift.redis_conn import new_client, redis_enabled, shared_connection

logger = logging.getLogger(__name__)

_MISSING = object()
ALL = "*"  # invalidation message meaning "drop every mutable entry"


@dataclass
class CacheStats:
    local_hits: int = 0
    shared_hits: int = 0
    misses: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"local_hits": self.local_hits, "shared_hits": self.shared_hits, "misses": self.misses}


class TwoLayerCache:
    def __init__(self) -> None:
        self._local: OrderedDict[str, tuple[Any, float | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every invalidation; a load that straddles one is not kept
        self._subscribed = threading.Event()
        self._subscriber_pid: int | None = None
        self._unsent: set[str] = set()  # invalidations Redis has not taken yet
        self.stats = CacheStats()

    # --- reads

    def get(self, key: str, loader: Callable[[], Any], *, immutable: bool, shared: bool = False) -> Any:
        """The cached value of `key`, loading (and caching) it on a miss. Returns a private copy, or with `shared`
        the cached value itself, for callers that only read it and hand on nothing that changes it (the copies
        of a definition cost a run start more than everything else it reads)."""
        self._ensure_subscriber()
        if self._unsent:
            self._resend_unsent()
        value = self._local_get(key)
        if value is not _MISSING:
            self.stats.local_hits += 1
            return value if shared else copy.deepcopy(value)
        generation = self._generation
        wrapped = self._shared.get(key)
        if wrapped is not None:
            self.stats.shared_hits += 1
            value = wrapped["v"]
        else:
            self.stats.misses += 1
            value = loader()
            # None ("does not exist yet") is never cached for immutable keys: it may be published later.
            if immutable and value is None:
                return None
            # A mutable value loaded while an invalidation arrived may predate that change: serve it to this
            # caller, but never publish it to the other processes through the shared layer.
            if immutable or generation == self._generation:
                self._shared.set(key, {"v": value}, None if immutable else settings.DRIFT_SNAPSHOT_CACHE_SECONDS)
        self._local_put(key, value, immutable=immutable, generation=generation)
        return value if shared else copy.deepcopy(value)

    # --- invalidation

    def invalidate(self, keys: Iterable[str]) -> None:
        """Drop `keys` here, in the shared cache and (via pub/sub) in every other process; and once more
        after the surrounding transaction commits, so a reader that loaded pre-commit data cannot keep it."""
        keys = list(keys)
        self._ensure_subscriber()  # it also re-sends invalidations an outage held back
        self._invalidate_now(keys)
        transaction.on_commit(lambda: self._invalidate_now(keys))

    def _invalidate_now(self, keys: list[str]) -> None:
        self.drop_local(keys)
        if not redis_enabled():
            self._shared.delete_many(keys)
            return
        try:
            self._send(keys)
        except Exception:  # Redis down or failing over: the write itself must succeed; sent again later
            logger.warning("cache invalidation not sent; will retry", exc_info=True)
            with self._lock:
                self._unsent.update(keys)

    def _send(self, keys: list[str]) -> None:
        """Delete the shared entries and tell the other processes (the raw client: errors must surface)."""
        connection = shared_connection()
        with connection.pipeline(transaction=False) as pipe:
            shared_keys = [self._shared.make_key(key) for key in keys if key != ALL]
            if shared_keys:
                pipe.delete(*shared_keys)
            pipe.publish(settings.DRIFT_CACHE_INVALIDATION_CHANNEL, json.dumps(keys))
            if settings.REDIS_SENTINELS:  # on a replica before a failover can promote it
                pipe.execute_command("WAIT", 1, settings.DRIFT_CACHE_REPLICA_WAIT_MS)
            pipe.execute()

    def _resend_unsent(self) -> None:
        with self._lock:
            keys, self._unsent = list(self._unsent), set()
        if keys:
            self._invalidate_now(keys)

    def drop_local(self, keys: Iterable[str]) -> None:
        with self._lock:
            self._generation += 1
            if ALL in keys:
                self._local = OrderedDict((k, v) for k, v in self._local.items() if v[1] is None)
                return
            for key in keys:
                self._local.pop(key, None)

    def clear(self) -> None:
        """Forget everything, both layers (tests; operators after restoring a database)."""
        with self._lock:
            self._generation += 1
            self._local.clear()
        if hasattr(self._shared, "delete_pattern"):  # django-redis: only our keys, never FLUSHDB (Celery shares it)
            for prefix in KEY_PREFIXES:
                self._shared.delete_pattern(f"{prefix}*")
        else:
            self._shared.clear()

    # --- local layer

    def _local_get(self, key: str) -> Any:
        with self._lock:
            entry = self._local.get(key)
            if entry is None:
                return _MISSING
            value, expires_at = entry
            if expires_at is not None and expires_at < time.monotonic():
                del self._local[key]
                return _MISSING
            self._local.move_to_end(key)
            return value

    def _local_put(self, key: str, value: Any, *, immutable: bool, generation: int) -> None:
        if not immutable and redis_enabled() and not self._subscribed.is_set():
            return
        expires_at = None if immutable else time.monotonic() + settings.DRIFT_SNAPSHOT_CACHE_SECONDS
        with self._lock:
            if generation != self._generation and not immutable:
                return
            self._local[key] = (value, expires_at)
            self._local.move_to_end(key)
            while len(self._local) > settings.DRIFT_LOCAL_CACHE_SIZE:
                self._local.popitem(last=False)

    @property
    def _shared(self):
        return caches["default"]

    # --- pub/sub

    def _ensure_subscriber(self) -> None:
        # Started lazily and per process id, so forked servers (gunicorn) each get their own thread.
        if not redis_enabled() or self._subscriber_pid == os.getpid():
            return
        with self._lock:
            if self._subscriber_pid == os.getpid():
                return
            self._subscriber_pid = os.getpid()
            self._subscribed.clear()
        threading.Thread(target=self._listen, name="drift-cache-invalidation", daemon=True).start()

    def wait_subscribed(self, timeout: float) -> bool:
        self._ensure_subscriber()
        return self._subscribed.wait(timeout) if redis_enabled() else True

    def _listen(self) -> None:
        backoff = 0.1
        while True:
            try:
                self._listen_once()
            except Exception as exc:  # any Redis/network failure: reconnect with backoff, never die
                # Warn once per outage; the retries that follow only at debug level.
                was_connected = self._subscribed.is_set()
                (logger.warning if was_connected else logger.debug)("cache invalidation subscriber down: %s", exc)
                backoff = 0.1 if was_connected else backoff
            self._subscribed.clear()
            time.sleep(backoff)
            backoff = min(backoff * 2, 5.0)

    def _listen_once(self) -> None:
        client = new_client(socket_connect_timeout=2, socket_timeout=30, health_check_interval=10)
        pubsub = client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(settings.DRIFT_CACHE_INVALIDATION_CHANNEL)
            pubsub.get_message(timeout=2)  # the subscribe confirmation
            self.drop_local([ALL])  # invalidations may have been missed while we were not listening
            self._subscribed.set()
            self._resend_unsent()
            while True:
                message = pubsub.get_message(timeout=1.0)
                if message and message.get("type") == "message":
                    self.drop_local(_decode(message["data"]))
                if self._unsent:  # Redis is back (we hear it): send what an outage held back
                    self._resend_unsent()
        finally:
            pubsub.close()
            client.close()


def _decode(data: bytes | str) -> list[str]:
    try:
        keys = json.loads(data)
    except ValueError:
        return [ALL]
    return [str(k) for k in keys] if isinstance(keys, list) else [ALL]


definition_cache = TwoLayerCache()


def cache_stats() -> dict[str, int]:
    return definition_cache.stats.as_dict()


# --- key names (one place, so writers and readers agree)

KEY_PREFIXES = ("def:", "route:", "enum:")


def head_key(tenant: str, kind: str, key: str) -> str:
    return f"def:{tenant}:{kind}:{key}:head"


def version_key(tenant: str, kind: str, key: str, version: int) -> str:
    return f"def:{tenant}:{kind}:{key}:v{version}"


def route_key(tenant: str, issue_id: str) -> str:
    return f"route:{tenant}:{issue_id}"


def enum_key(tenant: str) -> str:
    return f"enum:{tenant}"
