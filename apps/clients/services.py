import hashlib
import secrets

from django.db import transaction

from apps.clients.models import ApiClient, ApiKey, Scope
from drift.errors import InvalidInput, Problem

KEY_SEPARATOR = "."


def hash_key(raw_key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is enough (no password stretching needed).
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_client_get_or_create(*, tenant: str, client_id: str) -> ApiClient:
    client, _ = ApiClient.objects.get_or_create(
        tenant=tenant, client_id=client_id, defaults={"webhook_secret": secrets.token_hex(32)}
    )
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
