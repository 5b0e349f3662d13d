"""Reads of secrets. Values leave this module only towards the HTTP activity (never through an API)."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.secrets.crypto import InvalidToken, secrets_cipher
from apps.secrets.models import RevealAudit, Secret
from core.secret_references import SecretUnavailable

__all__ = ["SecretUnavailable", "reveal_audit_list", "secret_list", "secret_value", "secret_values"]


def secret_value(*, tenant: str, name: str) -> str:
    ciphertext = Secret.objects.filter(tenant=tenant, name=name).values_list("ciphertext", flat=True).first()
    if ciphertext is None:
        raise SecretUnavailable(name, f"is not set for tenant '{tenant}'")
    try:
        return secrets_cipher().decrypt(bytes(ciphertext)).decode()
    except InvalidToken:
        raise SecretUnavailable(name, "cannot be decrypted with the configured DRIFT_SECRET_KEYS") from None


def secret_values(*, tenant: str) -> list[str]:
    """Every readable secret value of the tenant: what an operator-facing report must mask wherever it shows up."""
    cipher = secrets_cipher()
    values = []
    for ciphertext in Secret.objects.filter(tenant=tenant).values_list("ciphertext", flat=True):
        try:
            values.append(cipher.decrypt(bytes(ciphertext)).decode())
        except InvalidToken:
            continue  # cannot be resolved either, so it cannot leak
    return values


def secret_list(*, tenant: str) -> QuerySet[Secret]:
    return Secret.objects.filter(tenant=tenant).only("name", "updated_at", "updated_by")


def reveal_audit_list(*, workflow_id: str) -> QuerySet[RevealAudit]:
    return RevealAudit.objects.filter(workflow_id=workflow_id)
