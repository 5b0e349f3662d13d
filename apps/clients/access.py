"""The tenant boundary, asked the same way by every surface (docs/security.md, "The model").

May this principal act for this tenant, with this permission? A principal is either

- an API key's `Principal` (apps/clients/authentication.py): exactly one tenant, permissions by scope; or
- a Django user: an active staff user acts for the tenants bound to them (`TenantMembership`), with the Django
  permissions they hold; a superuser is the only principal that acts for every tenant.

DRF permissions, the tenant-scoping admin mixin (`drift/admin.py`), the inbox, the task API and the codec all
call `may_act_for` / `tenants_of`; none of them decides on its own.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from apps.clients.models import TenantMembership
from drift.db import row_of

# What an API key needs for a Django permission, by the permission's app label. A key carries scopes, not
# permissions: `runtime` drives runs and tasks, `definitions` edits definitions, tests and secrets, `reveal`
# reads sensitive values in clear.
SCOPE_OF_APP = {"runs": "runtime", "operations": "runtime", "tasks": "runtime", "definitions": "definitions",
                "trials": "definitions", "secrets": "definitions", "triggers": "definitions"}
SCOPE_OF_PERMISSION = {"secrets.reveal_sensitive": "reveal"}


class EveryTenant(frozenset):
    """The tenants of a superuser: contains every tenant name."""

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str)

    def __repr__(self) -> str:
        return "EveryTenant()"


EVERY_TENANT = EveryTenant()


def is_key_principal(principal: Any) -> bool:
    from apps.clients.authentication import Principal

    return isinstance(principal, Principal)


def _is_active_staff(user: Any) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active and user.is_staff)


def tenants_of(principal: Any) -> frozenset[str]:
    """The tenants `principal` may act for: `EVERY_TENANT` for superusers, a key's one tenant, a staff user's
    memberships; nothing for anyone else (inactive, non-staff, anonymous)."""
    if is_key_principal(principal):
        return frozenset({principal.tenant})
    if not _is_active_staff(principal):
        return frozenset()
    if principal.is_superuser:
        return EVERY_TENANT
    cached = getattr(principal, "_drift_tenants", None)
    if cached is None:
        cached = frozenset(TenantMembership.objects.filter(user=principal).values_list("tenant", flat=True))
        principal._drift_tenants = cached  # once per request: the user object lives as long as the request
    return cached


def scope_of(permission: str) -> str | None:
    """The API-key scope that grants `permission` ("app.codename"); None: no key may hold it."""
    return SCOPE_OF_PERMISSION.get(permission) or SCOPE_OF_APP.get(permission.partition(".")[0])


def has_permission(principal: Any, permission: str | None) -> bool:
    """Whether `principal` holds `permission` ("app.codename"), tenant aside; None asks nothing."""
    if permission is None:
        return True
    if is_key_principal(principal):
        scope = scope_of(permission)
        return scope is not None and scope in principal.scopes
    return _is_active_staff(principal) and principal.has_perm(permission)


def may_act_for(principal: Any, tenant: str, permission: str | None = None) -> bool:
    """The one question: may `principal` act for `tenant` (and, if given, with `permission`)?"""
    return bool(tenant) and tenant in tenants_of(principal) and has_permission(principal, permission)


def is_platform_operator(principal: Any) -> bool:
    """A principal not bound to tenants: only superusers."""
    return not is_key_principal(principal) and _is_active_staff(principal) and principal.is_superuser


def scope_queryset(queryset: QuerySet, principal: Any, *, field: str = "tenant") -> QuerySet:
    """`queryset` narrowed to the rows of the tenants `principal` may act for (`field` names the tenant)."""
    tenants = tenants_of(principal)
    if isinstance(tenants, EveryTenant):
        return queryset
    return queryset.filter(**{f"{field}__in": sorted(tenants)})


def tenant_choices(principal: Any) -> list[tuple[str, str]]:
    """The tenants a form may offer `principal`, for a `tenant` field: its memberships, or every known tenant
    for a superuser (those with clients or memberships)."""
    tenants = tenants_of(principal)
    if isinstance(tenants, EveryTenant):
        from apps.clients.models import ApiClient

        known = set(ApiClient.objects.values_list("tenant", flat=True))
        known |= set(TenantMembership.objects.values_list("tenant", flat=True))
        tenants = frozenset(known)
    return [(tenant, tenant) for tenant in sorted(tenants)]


def acting_name(principal: Any) -> str:
    """The name a run's timeline and task record for the caller. A staff session is its user. An API key's
    `X-Username-Id` is the key's own label: it is recorded bare only when it names a platform user who may act
    for the key's tenant, and as `<client>/<name>` otherwise, so a key never acts in a foreign user's name."""
    if not is_key_principal(principal) or principal.is_staff:
        return principal.username
    from django.contrib.auth import get_user_model

    user = row_of(get_user_model(), username=principal.username, is_active=True)
    if user is not None and may_act_for(user, principal.tenant):
        return principal.username
    return f"{principal.client_id}/{principal.username}"

