import hashlib
import secrets

from django.core.cache import cache
from django.db import transaction

from apps.clients.models import ApiClient, ApiKey, Scope
from apps.clients.webhook_urls import webhook_url_problem
from core.problems import Problem
from drift.errors import InvalidInput

KEY_SEPARATOR = "."


def hash_key(raw_key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_client_get_or_create(*, tenant: str, client_id: str) -> ApiClient:
    client, _ = ApiClient.objects.get_or_create(
        tenant=tenant, client_id=client_id, defaults={"webhook_secret": new_webhook_secret()}
    )
    if not client.webhook_secret:  # e.g. added in the admin before secrets were generated there
        api_client_rotate_webhook_secret(client=client)
    return client


def new_webhook_secret() -> str:
    return secrets.token_hex(32)


def api_client_rotate_webhook_secret(*, client: ApiClient) -> str:
    """Replace the client's webhook signing secret; the new one is returned to be shown once. Attempts made from
    now on (retries of older deliveries too) are signed with it."""
    client.webhook_secret = new_webhook_secret()
    client.save(update_fields=["webhook_secret"])
    return client.webhook_secret


def api_client_set_callback_url(*, client: ApiClient, url: str) -> ApiClient:
    """Set (or clear, with "") the default webhook URL of the client's ASYNC runs; the SSRF guard must allow it."""
    problem = webhook_url_problem(url) if url else None
    if problem:
        raise InvalidInput("The callback URL is refused.", [Problem("$.callbackUrl", problem)])
    client.callback_url = url
    client.save(update_fields=["callback_url"])
    return client


@transaction.atomic
def api_key_create(*, tenant: str, client_id: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """Create a key and return it with the raw secret, which is shown once and never stored."""
    unknown = sorted(set(scopes) - set(Scope.values))
    if unknown or not scopes:
        raise InvalidInput(
            "Unknown or missing scopes.", [Problem("$.scopes", f"allowed: {', '.join(Scope.values)}")]
        )
    client = api_client_get_or_create(tenant=tenant, client_id=client_id)
    prefix = secrets.token_hex(6)
    raw_key = f"drift_{prefix}{KEY_SEPARATOR}{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(client=client, prefix=prefix, key_hash=hash_key(raw_key), scopes=sorted(scopes))
    return key, raw_key


def tenant_defaults_cache_key(tenant: str) -> str:
    return f"drift:tenant-defaults:{tenant}"


def tenant_defaults_forget(*, tenant: str) -> None:
    """Drop the cached default limits of `tenant` (read on every start) after its row changed."""
    cache.delete(tenant_defaults_cache_key(tenant))
