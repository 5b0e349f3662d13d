"""Sealing: sensitive values at rest (context store, the Run's start request) as encrypted envelopes.

`seal` replaces every string that contains a sensitive value (and every number equal to one) by
`{"$sealed": "v2:<Fernet token of its JSON>"}`, wherever it sits: a copy under `nodeParameters` or a node output
is sealed like the original. `unseal` gives the clear document back (reveal, rerun, redrive); `mask_sealed`
shows envelopes as `***` (every other reader).

Envelopes are bound to their run: each is encrypted under a key derived (HKDF) from DRIFT_SECRET_KEYS with the
tenant and workflow id, so an envelope copied into another run, or another tenant's, does not open there.
Envelopes from before that binding (`{"$sealed": "<token>"}`, under the secrets key itself) still open, but
only in a run created before they were sealed (see `_open_legacy`). Clients never send envelopes at all:
`refuse_sealed` turns them away at every input.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from apps.secrets.crypto import InvalidToken, fernet_keys, secrets_cipher
from core.problems import Problem
from core.redaction import MASK, contains
from drift.errors import InvalidInput

SEALED = "$sealed"
BOUND = "v2:"
# A legacy start request is sealed just before its Run row is inserted (Fernet counts whole seconds).
LEGACY_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class SealedRun:
    """Whose envelopes: the run they are bound to, and when it was created (None: no legacy envelope opens)."""

    tenant: str
    workflow_id: str
    created_at: datetime | None = None


@functools.lru_cache(maxsize=256)
def _bound_cipher(keys: tuple[bytes, ...], tenant: str, workflow_id: str) -> MultiFernet:
    info = json.dumps(["drift:sealed:v2", tenant, workflow_id]).encode()
    derived = [HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key) for key in keys]
    return MultiFernet([Fernet(base64.urlsafe_b64encode(key)) for key in derived])


def run_cipher(run: SealedRun) -> MultiFernet:
    """The cipher of one run's envelopes: the first DRIFT_SECRET_KEYS key seals, every one opens (rotation)."""
    return _bound_cipher(fernet_keys(settings.DRIFT_SECRET_KEYS, "secrets"), run.tenant, run.workflow_id)


def _is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(SEALED), str)


def _leaf_is_sensitive(value: Any, values: tuple[str, ...]) -> bool:
    if isinstance(value, str):
        return contains(value, values)
    return isinstance(value, int | float) and not isinstance(value, bool) and str(value) in values


def seal(document: Any, values: Iterable[str], run: SealedRun) -> Any:
    values = tuple(values)
    if not values:
        return document
    return _seal(document, values, run_cipher(run))


def _seal(document: Any, values: tuple[str, ...], cipher: MultiFernet) -> Any:
    if isinstance(document, dict) and not _is_sealed(document):
        return {key: _seal(item, values, cipher) for key, item in document.items()}
    if isinstance(document, list):
        return [_seal(item, values, cipher) for item in document]
    if _leaf_is_sensitive(document, values):
        return {SEALED: BOUND + cipher.encrypt(json.dumps(document).encode()).decode()}
    return document


def _walk(document: Any, leaf: Any) -> Any:
    if _is_sealed(document):
        return leaf(document[SEALED])
    if isinstance(document, dict):
        return {key: _walk(item, leaf) for key, item in document.items()}
    if isinstance(document, list):
        return [_walk(item, leaf) for item in document]
    return document


def _open_legacy(token: bytes, run: SealedRun) -> bytes:
    """An envelope of before the binding opens only in a run created before it was sealed: one copied from an
    older run into a newer one (or into any run created since the binding) stays shut."""
    cipher = secrets_cipher()
    if run.created_at is None or cipher.extract_timestamp(token) < (run.created_at - LEGACY_MARGIN).timestamp():
        raise InvalidToken
    return cipher.decrypt(token)


def _opener(run: SealedRun) -> Any:
    def open_one(token: str) -> Any:
        try:
            if token.startswith(BOUND):
                return json.loads(run_cipher(run).decrypt(token[len(BOUND):].encode()))
            return json.loads(_open_legacy(token.encode(), run))
        except InvalidToken:  # another run's or tenant's envelope, or a dropped key: shown as stored
            return {SEALED: token}

    return open_one


def unseal(document: Any, run: SealedRun) -> Any:
    return _walk(document, _opener(run))


def mask_sealed(document: Any) -> Any:
    return _walk(document, lambda token: MASK)


def is_sealed_anywhere(document: Any) -> bool:
    return json.dumps(document, default=str).find(f'"{SEALED}"') >= 0


def _sealed_path(value: Any, path: str) -> str | None:
    if isinstance(value, dict):
        if SEALED in value:
            return f"{path}.{SEALED}"
        found = (_sealed_path(item, f"{path}.{key}") for key, item in value.items())
    elif isinstance(value, list):
        found = (_sealed_path(item, f"{path}[{index}]") for index, item in enumerate(value))
    else:
        return None
    return next((hit for hit in found if hit is not None), None)


def refuse_sealed(value: Any, path: str = "$") -> None:
    """400 with the path when client input (a start, resume, event, patch) carries a `$sealed` envelope: only
    Drift seals, and an envelope taken from elsewhere must never be opened as this run's data."""
    if not is_sealed_anywhere(value):
        return  # the usual case, without a walk
    found = _sealed_path(value, path)
    if found is not None:
        raise InvalidInput("Sealed values are not accepted as input.",
                           [Problem(found, "a sealed value ($sealed) is not accepted as input")])
