"""The ciphers of this app, from keys in the environment (`cryptography`'s Fernet; no home-made crypto).

DRIFT_SECRET_KEYS is a list of Fernet keys: the first encrypts, all of them decrypt (MultiFernet), so a new key
is put first, `rotate_secret_keys` re-encrypts, and only then the old key is dropped. Without the variable
(local runs) one key is derived from DJANGO_SECRET_KEY so `./scripts/run` works out of the box.
"""

from __future__ import annotations

import base64
import functools
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

__all__ = ["InvalidToken", "derived_key", "fernet_keys", "secrets_cipher"]


def derived_key(purpose: str) -> bytes:
    """A Fernet key derived from DJANGO_SECRET_KEY: the local default only."""
    digest = hashlib.sha256(f"drift:{purpose}:{settings.SECRET_KEY}".encode()).digest()
    return base64.urlsafe_b64encode(digest)


def fernet_keys(configured: list[str], purpose: str) -> tuple[bytes, ...]:
    return tuple(key.encode() for key in configured) or (derived_key(purpose),)


@functools.lru_cache(maxsize=8)
def _multi(keys: tuple[bytes, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def secrets_cipher() -> MultiFernet:
    """Encrypts secrets (and sealed sensitive values) under the first key; decrypts with any."""
    return _multi(fernet_keys(settings.DRIFT_SECRET_KEYS, "secrets"))
