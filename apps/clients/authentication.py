"""`Authorization: Api-Key <key>` authentication, tenant headers and permissions.

Two kinds of caller (docs/security.md):
- an API key: its client's tenant, its scopes (`runtime`, `definitions`);
- a staff user's admin session: only for tenants bound to the user (TenantMembership; superusers: all).
Either way every view declares the permissions of each method (`permission_map`) and each is asked through
`apps.clients.access.may_act_for` (`PermissionMap`).
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from apps.clients.access import has_permission, is_platform_operator, may_act_for, scope_of
from apps.clients.models import ApiKey
from apps.clients.selectors import api_key_for_raw

# Canonical spelling first; the seed's underscore spelling reaches Django as HTTP_X_TENANT_ID too
# when the proxy passes it, so both map to the same META key.
TENANT_HEADERS = ("HTTP_X_TENANT_ID",)
CLIENT_HEADERS = ("HTTP_X_CLIENT_ID",)
USER_HEADERS = ("HTTP_X_USERNAME_ID",)


def header(request: HttpRequest, names: tuple[str, ...]) -> str:
    for name in names:
        value = request.META.get(name, "").strip()
        if value:
            return value
    return ""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a tenant's API client (by key) or a staff user acting for a tenant."""

    tenant: str
    client_id: str
    username: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    is_staff: bool = False

    is_authenticated = True
    is_active = True

    @property
    def pk(self) -> str:
        return f"{self.tenant}/{self.client_id}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request: Request) -> tuple[Principal, ApiKey] | None:
        parts = authentication.get_authorization_header(request).decode(errors="replace").split()
        if not parts or parts[0] != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header; use 'Api-Key <key>'.")
        key = api_key_for_raw(parts[1])
        if key is None:
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        tenant = header(request, TENANT_HEADERS)
        if tenant and tenant != key.client.tenant:
            raise exceptions.PermissionDenied("This API key may not act for that tenant.")
        client_id = header(request, CLIENT_HEADERS)
        if client_id and client_id != key.client.client_id:
            raise exceptions.PermissionDenied("This API key belongs to another client.")
        _touch(key)
        username = header(request, USER_HEADERS) or key.client.client_id
        principal = Principal(key.client.tenant, key.client.client_id, username, frozenset(key.scopes))
        return principal, key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


def _touch(key: ApiKey) -> None:
    """Record that the key was used, at most once per DRIFT_API_KEY_TOUCH_SECONDS: a write on every request
    cost each call a database commit (issue 11)."""
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= timedelta(seconds=settings.DRIFT_API_KEY_TOUCH_SECONDS):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)


def principal_of(request: Request) -> Principal:
    """The Principal of an authenticated request; staff sessions name their tenant by header."""
    if isinstance(request.user, Principal):
        return request.user
    tenant = header(request, TENANT_HEADERS)
    if not tenant:
        raise exceptions.ValidationError({"X-Tenant-Id": ["This header is required."]})
    username = request.user.get_username()
    client_id = header(request, CLIENT_HEADERS) or "admin"
    scopes = frozenset({"runtime", "definitions"})
    return Principal(tenant, client_id, username, scopes, is_staff=True)


SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def required_permissions(view, request: Request) -> tuple[str, ...] | None:
    """What `view` declares the request needs: `permission_map[METHOD]` (HEAD/OPTIONS as GET), or, for a view
    acting by operation (`permission_operation` names the URL argument), `permission_map["METHOD op"]`.
    None: nothing declared, so refused (a new method or operation is closed until it is mapped)."""
    method = "GET" if request.method in SAFE_METHODS else request.method
    operation = getattr(view, "permission_operation", None)
    key = f"{method} {view.kwargs.get(operation)}" if operation else method
    return getattr(view, "permission_map", {}).get(key)


def may_reveal(request: Request) -> bool:
    """Whether the caller may read sensitive run data in clear: a key with the `reveal` scope, or a user
    holding the `secrets.reveal_sensitive` permission."""
    user = request.user
    if isinstance(user, Principal):
        return "reveal" in user.scopes
    return bool(user and user.is_authenticated and user.is_active and user.has_perm("secrets.reveal_sensitive"))


def actor_of(request: Request) -> str:
    principal = principal_of(request)
    return f"{principal.client_id}/{principal.username}"


class PermissionMap(permissions.BasePermission):
    """Every permission the view's map names for the request, each asked through `may_act_for` for the tenant
    acted for: an API key's own (its scopes grant permissions, access.SCOPE_OF_APP), or a staff session's
    `X-Tenant-Id` (memberships and Django permissions). The 403 names what is missing."""

    message = "Permission denied."

    def has_permission(self, request: Request, view) -> bool:
        user = request.user
        if not isinstance(user, Principal) and not (user and user.is_authenticated and user.is_active
                                                    and user.is_staff):
            self.message = "Only active staff users may use the API with a session."
            return False
        if not hasattr(view, request.method.lower()):
            return True  # a method the view does not serve: DRF answers 405
        needed = required_permissions(view, request)
        if needed is None:
            self.message = f"No permission is declared for {request.method} here; it is refused."
            return False
        tenant = user.tenant if isinstance(user, Principal) else header(request, TENANT_HEADERS)
        if tenant and not may_act_for(user, tenant):
            self.message = f"User '{user.get_username()}' may not act for tenant '{tenant}'."
            return False
        missing = next((permission for permission in needed if not _allowed(user, tenant, permission)), None)
        if missing is not None:
            self.message = _lacking(user, missing)
        return missing is None


def _allowed(user, tenant: str, permission: str) -> bool:
    # A session naming no tenant reaches only what belongs to none (the DSL schema): every view reading a
    # tenant's data asks principal_of, which answers 400 without X-Tenant-Id.
    return may_act_for(user, tenant, permission) if tenant else has_permission(user, permission)


def _lacking(user, permission: str) -> str:
    if isinstance(user, Principal):
        return f"This API key lacks the '{scope_of(permission)}' scope (for '{permission}')."
    return f"User '{user.get_username()}' lacks the permission '{permission}' for this action."


class PlatformOperatorOnly(permissions.BasePermission):
    """What spans every tenant (host limits, the codec): superusers only; an API key or a tenant's staff user is
    refused whatever its scopes or permissions (docs/security.md)."""

    message = "Only platform operators (superusers) may use this: it is shared by every tenant."

    def has_permission(self, request: Request, view) -> bool:
        return is_platform_operator(request.user)
