import hmac

from apps.clients.models import ApiClient, ApiKey
from apps.clients.services import KEY_SEPARATOR, hash_key


def api_key_for_raw(raw_key: str) -> ApiKey | None:
    """The active key matching `raw_key`, compared in constant time, or None."""
    head, sep, _ = raw_key.partition(KEY_SEPARATOR)
    if not sep or not head.startswith("drift_"):
        return None
    key = ApiKey.objects.select_related("client").filter(prefix=head[6:], is_active=True).first()
    if key is None or not hmac.compare_digest(key.key_hash, hash_key(raw_key)):
        return None
    return key


def api_client_get(*, tenant: str, client_id: str) -> ApiClient:
    return ApiClient.objects.get(tenant=tenant, client_id=client_id)
