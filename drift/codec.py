"""Temporal payload encryption: every payload the worker, the API, `replay` and `rerun` exchange with Temporal
is encrypted, so run data at rest in Temporal (inputs, contexts, results, update answers) is unreadable
without the key.

DRIFT_PAYLOAD_KEYS is a list of Fernet keys (`cryptography`): the first encrypts, every one decrypts, and each
payload names its key in the metadata (`encryption-key-id`, a hash prefix of the key, never the key), so a
new key can be put first while runs encrypted under the old one stay readable. Without the variable (local
runs) a key is derived from DJANGO_SECRET_KEY. Payloads without the encrypted encoding pass through, so runs
started before encryption was enabled still decode. Large payloads are compressed (zlib) before they are
encrypted (`encryption-compression` in the metadata; payloads without it are read as before). The Temporal UI
reads encrypted runs through the codec endpoint `/codec/` of the API (apps/secrets/api/codec.py), the shape of
temporalio's codec-server samples.
A local activity's input stays in clear (drift/payloads.py, LOCAL_INPUT): it never leaves the worker process.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import zlib
from collections.abc import Sequence

import temporalio.converter
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes, PayloadCodec

from drift.payloads import LOCAL_INPUT, DriftPayloadConverter

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
# Payloads from this size on are compressed before they are encrypted (encrypted bytes do not compress): the pinned
# definition in a start, a context in a remote node's input, a segment's outcomes. JSON shrinks 3-5x at level 1,
# which the Temporal server stores, replicates and sends to workers that many fewer bytes of.
COMPRESSION = "encryption-compression"
COMPRESS_FROM_BYTES = 1024


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


class EncryptionCodec(PayloadCodec):
    def __init__(self, keys: Sequence[bytes], *, encrypt: bool = True) -> None:
        self._ciphers = {key_id(key): Fernet(key) for key in keys}
        self._current = key_id(keys[0])
        self._encrypt = encrypt

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.encode_now(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.decode_now(payloads)

    def encode_now(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Synchronous encode (the codec endpoint runs in WSGI threads)."""
        if not self._encrypt:
            return list(payloads)
        return [payload if LOCAL_INPUT in payload.metadata else self._encrypted(payload) for payload in payloads]

    def _encrypted(self, payload: Payload) -> Payload:
        data = payload.SerializeToString()
        metadata = {"encoding": ENCODING, KEY_ID: self._current.encode()}
        if len(data) >= COMPRESS_FROM_BYTES:
            data = zlib.compress(data, 1)
            metadata[COMPRESSION] = b"zlib"
        return Payload(metadata=metadata, data=self._ciphers[self._current].encrypt(data))

    def decode_now(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._decode(payload) for payload in payloads]

    def _decode(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        wanted = payload.metadata.get(KEY_ID, b"").decode()
        cipher = self._ciphers.get(wanted)
        if cipher is None:
            raise ValueError(f"payload encrypted with key id '{wanted}', which DRIFT_PAYLOAD_KEYS does not hold")
        try:
            data = cipher.decrypt(payload.data)  # authenticated first: only a holder of the key made what follows
        except InvalidToken:
            raise ValueError(f"payload under key id '{wanted}' does not decrypt (tampered or wrong key)") from None
        if payload.metadata.get(COMPRESSION) == b"zlib":
            try:
                data = zlib.decompress(data)
            except zlib.error:
                raise ValueError(f"payload under key id '{wanted}' is marked compressed but is not") from None
        return Payload.FromString(data)


@functools.lru_cache(maxsize=4)
def _codec(keys: tuple[bytes, ...], encrypt: bool) -> EncryptionCodec:
    return EncryptionCodec(keys, encrypt=encrypt)


def payload_codec() -> EncryptionCodec:
    from apps.secrets.crypto import fernet_keys

    return _codec(fernet_keys(settings.DRIFT_PAYLOAD_KEYS, "payloads"), settings.DRIFT_PAYLOAD_ENCRYPTION)


def data_converter() -> DataConverter:
    """The converter every Drift Temporal client uses (worker, API, replay, rerun, tests). Failure messages and
    stack traces travel as encoded attributes too (they quote node errors), so the codec covers them. Payloads
    are converted by drift/payloads.py (the SDK's JSON encoding, cheaper on the run contract's dataclasses)."""
    return dataclasses.replace(temporalio.converter.default(), payload_converter_class=DriftPayloadConverter,
                               payload_codec=payload_codec(),
                               failure_converter_class=DefaultFailureConverterWithEncodedAttributes)
