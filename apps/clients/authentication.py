"""`Authorization: Api-Key <key>` authentication, tenant headers and permissions.

Two kinds of caller (docs/security.md):
- an API key: its client's tenant, its scopes (`runtime`, `definitions`);
- a staff user's admin session: only for tenants bound to the user (TenantMembership; superusers: all), and
  only with the Django model permission of the action (`session_permissions` of the view, by HTTP method).
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from apps.clients.access import has_permission, may_act_for
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


def session_permission(view, method: str) -> str | None:
    """The Django permission a session needs for `method` on `view` (HEAD/OPTIONS as GET); None: refused."""
    permissions_by_method = getattr(view, "session_permissions", {})
    return permissions_by_method.get("GET" if method in SAFE_METHODS else method)


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


class HasScope(permissions.BasePermission):
    """Allow API keys carrying `scope`, and active staff sessions bound to the tenant with the action's permission."""

    scope = ""
    message = "This API key lacks the required scope."

    def has_permission(self, request: Request, view) -> bool:
        user = request.user
        if isinstance(user, Principal):
            return self.scope in user.scopes
        if not (user and user.is_authenticated and user.is_active and user.is_staff):
            self.message = "Only active staff users may use the API with a session."
            return False
        tenant = header(request, TENANT_HEADERS)
        if tenant and not may_act_for(user, tenant):
            self.message = f"User '{user.get_username()}' may not act for tenant '{tenant}'."
            return False
        needed = session_permission(view, request.method)
        if needed is None or not has_permission(user, needed):
            self.message = f"User '{user.get_username()}' lacks the permission '{needed}' for this action."
            return False
        return True


class HasRuntimeScope(HasScope):
    scope = "runtime"
    message = "This API key lacks the 'runtime' scope."


class HasDefinitionsScope(HasScope):
    scope = "definitions"
    message = "This API key lacks the 'definitions' scope."
