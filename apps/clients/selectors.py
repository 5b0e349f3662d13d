import hmac
from typing import Any

from django.conf import settings
from django.core.cache import cache

from apps.clients.models import ApiClient, ApiKey, TenantDefaults, TenantMembership
from apps.clients.services import KEY_SEPARATOR, hash_key, tenant_defaults_cache_key
from drift.db import row_of


def api_key_for_raw(raw_key: str) -> ApiKey | None:
    """The active key matching `raw_key`, compared in constant time, or None."""
    head, sep, _ = raw_key.partition(KEY_SEPARATOR)
    if not sep or not head.startswith("drift_"):
        return None
    key = row_of(ApiKey, related="client", prefix=head[6:], is_active=True)  # every request reads its client
    if key is None or not hmac.compare_digest(key.key_hash, hash_key(raw_key)):
        return None
    return key


def api_client_get(*, tenant: str, client_id: str) -> ApiClient:
    return ApiClient.objects.get(tenant=tenant, client_id=client_id)


def groups_by_tenant(user) -> dict[str, frozenset[str]]:
    """The user's memberships: tenant -> names of the groups it holds there (an empty set: bound, no group)."""
    held: dict[str, set[str]] = {}
    for tenant, group in TenantMembership.objects.filter(user=user).values_list("tenant", "groups__name"):
        held.setdefault(tenant, set()).update([group] if group else [])
    return {tenant: frozenset(groups) for tenant, groups in held.items()}


def tenant_default_limits(*, tenant: str) -> Any:
    """The run `limits` the tenant's operators set as its default (admin), or None. Asked by every start, so
    cached for DRIFT_TENANT_DEFAULTS_CACHE_SECONDS; the admin forgets a tenant's entry when it saves or deletes
    the row: with the shared Redis cache an edit applies at once, with the in-process one (no REDIS_URL) other
    processes see it within that time."""
    key = tenant_defaults_cache_key(tenant)
    cached = cache.get(key)
    if cached is None:  # the entry wraps the value: a tenant without defaults is cached too
        cached = {"limits": TenantDefaults.objects.filter(tenant=tenant).values_list("limits", flat=True).first()}
        cache.set(key, cached, settings.DRIFT_TENANT_DEFAULTS_CACHE_SECONDS)
    return cached["limits"]
