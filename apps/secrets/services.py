"""Writes of secrets: set, delete, re-encrypt under the current key; and the reveal audit."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction

from apps.secrets.crypto import secrets_cipher
from apps.secrets.models import NAME_PATTERN, RevealAudit, Secret
from apps.secrets.sealing import SealedRun, is_sealed_anywhere, mask_sealed, unseal
from core.problems import Problem
from drift.errors import InvalidInput, NotFound

MAX_VALUE_CHARS = 16 * 1024
_NAME = re.compile(NAME_PATTERN)


def check_secret_name(name: str, path: str = "$.name") -> None:
    if not _NAME.match(name):
        raise InvalidInput("Invalid secret name.", [Problem(path, "1-100 letters, digits, '_', '.', '-'")])


def secret_put(*, tenant: str, name: str, value: str, actor: str) -> Secret:
    """Create or replace a secret; the value is encrypted before it reaches the database."""
    check_secret_name(name)
    try:
        clear = value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("Invalid secret value.", [Problem("$.value", "is not valid Unicode text")]) from None
    if not value or len(value) > MAX_VALUE_CHARS:
        raise InvalidInput("Invalid secret value.", [Problem("$.value", f"1-{MAX_VALUE_CHARS} characters")])
    secret, _ = Secret.objects.update_or_create(
        tenant=tenant, name=name,
        defaults={"ciphertext": secrets_cipher().encrypt(clear), "updated_by": actor[:200]},
    )
    return secret


def secret_delete(*, tenant: str, name: str) -> None:
    deleted, _ = Secret.objects.filter(tenant=tenant, name=name).delete()
    if not deleted:
        raise NotFound(f"Unknown secret '{name}'.")


def secrets_rotate(*, batch_size: int = 500) -> int:
    """Re-encrypt every secret under the first DRIFT_SECRET_KEYS key (row by row: readers never wait).

    Old keys keep decrypting meanwhile; drop them from the environment once this has run everywhere.
    """
    cipher, rotated, last_pk = secrets_cipher(), 0, 0
    while True:
        batch = list(Secret.objects.filter(pk__gt=last_pk).order_by("pk").values_list("pk", "ciphertext")[:batch_size])
        if not batch:
            return rotated
        with transaction.atomic():
            for pk, ciphertext in batch:
                # Only if unchanged since read: a concurrent PUT (already under the new key) wins.
                rotated += Secret.objects.filter(pk=pk, ciphertext=ciphertext).update(
                    ciphertext=cipher.rotate(bytes(ciphertext))
                )
        last_pk = batch[-1][0]


def reveal_record(*, actor: str, tenant: str, workflow_id: str, channel: str) -> None:
    RevealAudit.objects.create(actor=actor[:200], tenant=tenant, workflow_id=workflow_id, channel=channel)


def sealed_for_reader(document: Any, *, reveal: bool, actor: str, run: SealedRun, channel: str) -> Any:
    """A stored document (context, start request) of `run` as this reader may see it: sealed values in clear for
    a reader allowed to reveal (recorded in the audit), `***` for everyone else."""
    if not is_sealed_anywhere(document):
        return document
    if not reveal:
        return mask_sealed(document)
    reveal_record(actor=actor, tenant=run.tenant, workflow_id=run.workflow_id, channel=channel)
    return unseal(document, run)
