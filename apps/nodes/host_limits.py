"""Host limits: a token bucket (requests per second) and an in-flight cap per target host, kept in Redis so that
every worker process (and every thread of each) shares them. Platform operators keep them as HostLimit rows (spec
§13); DRIFT_HOST_LIMITS (`{host: {"rate", "burst", "inFlight"}}`) is the deployment's fallback: a row wins for its
host. A host is `name` or `name:port`; a URL is limited by its most specific key (`name:port`, then `name`).

The rows are read once per DRIFT_HOST_LIMITS_REFRESH_SECONDS per process, not per request: an edit reaches every
worker process within that time. The database unreachable: the last table read stays in use (none yet: the
setting alone), and the read is tried again after the same interval.

Order matters: the in-flight slot is taken first, then the token, and the request leaves right after the token;
a token taken while waiting for a slot would let a backlog leave at once and break the rate the host sees.
Both scripts read Redis's clock (TIME), not the workers': processes on different machines agree on time.
The slot is a sorted-set member scored with its expiry (the node's timeout plus a margin), so a worker that dies
mid-call leaks its slot only until then; a normal call removes it in `finally`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from apps.nodes.base import NodeError
from apps.nodes.host_limit_rules import normalize_host, url_keys

log = logging.getLogger(__name__)

# KEYS[1]: the bucket (hash tokens, ts). ARGV: rate (tokens per period), burst, period ms. Returns 0 (token
# taken) or the ms to wait.
TOKEN_BUCKET = """
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + tonumber(now[2]) / 1000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or burst)
local ts = tonumber(redis.call('HGET', KEYS[1], 'ts') or now)
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / period)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * period / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * period / rate) + 1000)
return wait
"""

# KEYS[1]: the slots (zset member -> expiry ms). ARGV: cap, member, ttl ms. Returns 1 (slot taken) or 0 (full).
IN_FLIGHT = """
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
local expiry = now + tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], expiry, ARGV[2])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(last[2]) - now))
return 1
"""

SLOT_POLL_SECONDS = 0.02  # a full host is polled (slots are freed early, their expiry says nothing)
SLOT_TTL_MARGIN_SECONDS = 5.0  # the activity's start-to-close is the node's timeout + 5 s (worker/kinds/node.py)
KEY_PREFIX = "drift:hostlimit"


@dataclass(frozen=True)
class Limit:
    host: str  # the key it is kept under (and its Redis keys): `name` or `name:port`
    rate: float | None  # requests per second; None: no bucket
    burst: float
    in_flight: int | None  # None: no cap


@dataclass(frozen=True)
class _Rows:
    limits: dict[str, dict]
    read_at: float  # _clock()


_rows: _Rows | None = None
_rows_lock = threading.Lock()
_clock = time.monotonic  # the rows' age (tests move it instead of waiting)


def limit_for(url: str) -> Limit | None:
    """The limit a request to `url` waits for: the first of its keys (`name:port`, `name`) that a row or, failing
    that, DRIFT_HOST_LIMITS names; None: not limited."""
    from apps.nodes import settings

    keys = url_keys(url)
    if not keys:
        return None
    rows, fallback = operator_rows(), settings.host_limits()
    for key in keys:
        spec = rows.get(key, fallback.get(key))
        if isinstance(spec, dict):
            rate, in_flight = spec.get("rate"), spec.get("inFlight")
            return Limit(host=key, rate=float(rate) if rate else None, burst=float(spec.get("burst") or 1),
                         in_flight=int(in_flight) if in_flight else None)
    return None


def operator_rows() -> dict[str, dict]:
    """The HostLimit rows, as read at most DRIFT_HOST_LIMITS_REFRESH_SECONDS ago by this process."""
    from apps.nodes import settings

    cached = _rows
    if cached is not None and _clock() - cached.read_at < settings.host_limits_refresh_seconds():
        return cached.limits
    with _rows_lock:  # one thread reads; the others wait for its table rather than querying too
        cached = _rows
        if cached is None or _clock() - cached.read_at >= settings.host_limits_refresh_seconds():
            cached = _read_rows(cached)
        return cached.limits


def _read_rows(previous: _Rows | None) -> _Rows:
    global _rows
    from apps.nodes import settings

    try:
        limits = settings.host_limit_rows()
    except Exception as exc:  # database down: never a crash, and not one query per request either
        limits = previous.limits if previous is not None else {}
        log.warning("host limits: could not read the HostLimit rows (%s); using %s for %g s", exc,
                    "the last ones read" if previous is not None else "DRIFT_HOST_LIMITS alone",
                    settings.host_limits_refresh_seconds())
    _rows = _Rows(limits, _clock())
    return _rows


def forget_rows() -> None:
    """Read the rows again on the next call (a save or delete in this process applies at once)."""
    global _rows
    with _rows_lock:
        _rows = None


def validate_limits(value: Any) -> list[str]:
    """Problems of a DRIFT_HOST_LIMITS value (a system check reports them at start)."""
    if not isinstance(value, dict):
        return ["must be an object {host: {rate, burst, inFlight}}"]
    problems = []
    for host, spec in value.items():
        try:
            normalize_host(host)
        except ValueError as exc:
            problems.append(f"{host}: the host {exc}")
        if not isinstance(spec, dict):
            problems.append(f"{host}: must be an object")
            continue
        for key in ("rate", "burst", "inFlight"):
            number = spec.get(key)
            if number is not None and (isinstance(number, bool) or not isinstance(number, int | float) or number <= 0):
                problems.append(f"{host}.{key}: must be a positive number")
        if set(spec) - {"rate", "burst", "inFlight"}:
            problems.append(f"{host}: unknown keys {sorted(set(spec) - {'rate', 'burst', 'inFlight'})}")
    return problems


class _Scripts:
    """The two scripts registered on the shared connection (EVALSHA, reloaded by redis-py after a flush)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.bucket = client.register_script(TOKEN_BUCKET)
        self.slots = client.register_script(IN_FLIGHT)


_scripts: _Scripts | None = None


def _redis_scripts() -> _Scripts | None:
    global _scripts
    from apps.nodes import settings

    client = settings.redis_client()
    if client is None:
        return None
    if _scripts is None or _scripts.client is not client:
        _scripts = _Scripts(client)
    return _scripts


@contextmanager
def admitted(url: str, timeout: float) -> Iterator[float]:
    """Wait (at most `timeout` seconds) until `url`'s host admits one more request; yields the seconds waited.
    Over the timeout: a retryable NodeError naming the host. Redis down: per DRIFT_HOST_LIMITS_ON_REDIS_DOWN."""
    limit = limit_for(url)
    if limit is None:
        yield 0.0
        return
    host = limit.host
    started = time.monotonic()
    member = None
    try:
        scripts = _redis_scripts()
        if scripts is None:
            raise ConnectionError("Redis is not configured")
        member = _take_slot(scripts, host, limit, started, timeout)
        _take_token(scripts, host, limit, started, timeout)
    except NodeError:
        _release(host, member)
        raise
    except Exception as exc:  # redis.RedisError, ConnectionError, OSError: never a crash
        _release(host, member)
        _redis_down(host, exc)
        member = None
    try:
        yield time.monotonic() - started
    finally:
        _release(host, member)


def _take_slot(scripts: _Scripts, host: str, limit: Limit, started: float, timeout: float) -> str | None:
    if limit.in_flight is None:
        return None
    member = uuid.uuid4().hex
    ttl_ms = int((timeout + SLOT_TTL_MARGIN_SECONDS) * 1000)
    while not scripts.slots(keys=[f"{KEY_PREFIX}:{host}:slots"], args=[limit.in_flight, member, ttl_ms]):
        _sleep_within(host, started, timeout, SLOT_POLL_SECONDS * (1 + random.random()))  # noqa: S311 - jitter
    return member


def _take_token(scripts: _Scripts, host: str, limit: Limit, started: float, timeout: float) -> None:
    if limit.rate is None:
        return
    from apps.nodes import settings

    # `rate` tokens per second *plus the jitter allowance*: grants are spaced so that `rate + 1` of them span more
    # than a second by that much, and requests whose trip to the host differs by less still arrive at most `rate`
    # within any second (the partner's limit is what must hold, not our grant times).
    period_ms = 1000 + settings.host_limits_jitter_ms()
    args = [limit.rate, limit.burst, period_ms]
    while wait_ms := int(scripts.bucket(keys=[f"{KEY_PREFIX}:{host}:bucket"], args=args)):
        _sleep_within(host, started, timeout, wait_ms / 1000)


def _sleep_within(host: str, started: float, timeout: float, seconds: float) -> None:
    waited = time.monotonic() - started
    if waited + seconds > timeout:
        raise NodeError(f"host limit of {host}: no request slot within the node's timeout of {timeout:g} s "
                        f"(waited {waited * 1000:.0f} ms; see its host limit)", retryable=True)
    time.sleep(seconds)


def _release(host: str, member: str | None) -> None:
    if member is None:
        return
    try:
        scripts = _redis_scripts()
        if scripts is not None:
            scripts.client.zrem(f"{KEY_PREFIX}:{host}:slots", member)
    except Exception as exc:  # the slot's expiry frees it
        log.warning("host limit of %s: could not release a slot (%s); it expires by itself", host, exc)


def _redis_down(host: str, exc: Exception) -> None:
    from apps.nodes import settings

    if settings.host_limits_fail_closed():
        raise NodeError(f"host limit of {host}: Redis unavailable ({exc}); failing closed "
                        f"(DRIFT_HOST_LIMITS_ON_REDIS_DOWN=closed)", retryable=True) from None
    log.warning("host limit of %s: Redis unavailable (%s); calling without the limit "
                "(DRIFT_HOST_LIMITS_ON_REDIS_DOWN=open)", host, exc)
