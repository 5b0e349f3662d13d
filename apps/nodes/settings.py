"""The only place apps/nodes reads Django settings, lazily, so sandbox children never need Django."""

from __future__ import annotations


def _get(name: str):
    from django.conf import settings

    return getattr(settings, name)


def script_timeout_seconds() -> float:
    return float(_get("DRIFT_SCRIPT_TIMEOUT_SECONDS"))


def script_memory_mb() -> int:
    return int(_get("DRIFT_SCRIPT_MEMORY_MB"))


def script_workers() -> int:
    return max(1, int(_get("DRIFT_SCRIPT_WORKERS")))


def script_tenant_share() -> int:
    """Sandbox children one tenant may hold at once (0: half the pool, at least one)."""
    return int(_get("DRIFT_SCRIPT_TENANT_SHARE"))


def script_queue_seconds() -> float:
    return float(_get("DRIFT_SCRIPT_QUEUE_SECONDS"))


def http_allowed_networks() -> list[str]:
    return list(_get("DRIFT_HTTP_ALLOWED_NETWORKS") or [])


def http_default_timeout_seconds() -> float:
    return float(_get("DRIFT_HTTP_DEFAULT_TIMEOUT_SECONDS"))


def token_provider_path() -> str:
    return str(_get("DRIFT_TOKEN_PROVIDER"))


def oauth_expiry_margin_seconds() -> int:
    return int(_get("DRIFT_OAUTH_EXPIRY_MARGIN_SECONDS"))


def shared_cache():
    """The Django cache (Redis): OAuth2 tokens shared by every worker."""
    from django.core.cache import cache

    return cache


def host_limits() -> dict:
    """DRIFT_HOST_LIMITS with lower-cased hosts: {host: {"rate", "burst", "inFlight"}}."""
    return {str(host).lower(): spec for host, spec in (_get("DRIFT_HOST_LIMITS") or {}).items()}


def host_limit_rows() -> dict:
    """The operators' HostLimit rows, {host: {"rate", "burst", "inFlight"}}: one query (host_limits.py caches it)."""
    from apps.nodes.selectors import host_limit_table

    return host_limit_table()


def host_limits_refresh_seconds() -> float:
    return max(0.0, float(_get("DRIFT_HOST_LIMITS_REFRESH_SECONDS")))


def host_limits_jitter_ms() -> float:
    return max(0.0, float(_get("DRIFT_HOST_LIMITS_JITTER_MS")))


def host_limits_fail_closed() -> bool:
    return str(_get("DRIFT_HOST_LIMITS_ON_REDIS_DOWN")).lower() == "closed"


def redis_client():
    """The cache's pooled Redis connection (shared by all threads of the process), or None without Redis."""
    from drift.redis_conn import shared_connection

    return shared_connection()
