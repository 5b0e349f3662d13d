"""Keys from the environment: secret rotation without downtime, and payload-codec key ids."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from temporalio.api.common.v1 import Payload

from apps.secrets.models import Secret
from apps.secrets.sealing import SealedRun, mask_sealed, seal, unseal
from apps.secrets.selectors import SecretUnavailable, secret_value
from apps.secrets.services import secret_put
from drift.codec import COMPRESS_FROM_BYTES, COMPRESSION, ENCODING, KEY_ID, EncryptionCodec, key_id

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.mark.django_db
@pytest.mark.mysql
def test_rotation_reencrypts_every_secret_while_old_keys_keep_decrypting(settings):
    settings.DRIFT_SECRET_KEYS = [OLD]
    for index in range(7):
        secret_put(tenant="acme", name=f"s{index}", value=f"value-{index}", actor="tests")
    before = dict(Secret.objects.values_list("name", "ciphertext"))

    settings.DRIFT_SECRET_KEYS = [NEW, OLD]  # step 1: deploy the new key first; everything still reads
    assert secret_value(tenant="acme", name="s3") == "value-3"
    out = io.StringIO()
    call_command("rotate_secret_keys", batch_size=3, stdout=out)  # step 2: re-encrypt (batches of 3)
    assert "7 secrets re-encrypted" in out.getvalue()
    assert all(bytes(before[name]) != bytes(c) for name, c in Secret.objects.values_list("name", "ciphertext"))

    settings.DRIFT_SECRET_KEYS = [NEW]  # step 3: drop the old key
    assert [secret_value(tenant="acme", name=f"s{i}") for i in range(7)] == [f"value-{i}" for i in range(7)]

    settings.DRIFT_SECRET_KEYS = [OLD]  # a process that only knows the old key can no longer read them
    with pytest.raises(SecretUnavailable, match="secret 's0' cannot be decrypted"):
        secret_value(tenant="acme", name="s0")


def test_payloads_name_their_key_and_decode_after_the_key_changes():
    payload = Payload(metadata={"encoding": b"json/plain"}, data=b'{"phone": "+1-555"}')
    old_codec = EncryptionCodec([OLD.encode()])
    encoded = asyncio.run(old_codec.encode([payload]))[0]
    assert encoded.metadata[KEY_ID] == key_id(OLD.encode()).encode() and b"+1-555" not in encoded.data
    assert OLD.encode() not in encoded.metadata[KEY_ID]

    rotated = EncryptionCodec([NEW.encode(), OLD.encode()])
    assert asyncio.run(rotated.decode([encoded]))[0] == payload  # old runs still read
    assert asyncio.run(rotated.encode([payload]))[0].metadata[KEY_ID] == key_id(NEW.encode()).encode()

    with pytest.raises(ValueError, match=f"key id '{key_id(OLD.encode())}'"):
        asyncio.run(EncryptionCodec([NEW.encode()]).decode([encoded]))
    clear = Payload(metadata={"encoding": b"json/plain"}, data=b"1")
    assert asyncio.run(rotated.decode([clear]))[0] == clear  # written before encryption was on
    assert asyncio.run(EncryptionCodec([NEW.encode()], encrypt=False).encode([clear]))[0] == clear


def test_large_payloads_are_compressed_before_encryption_and_earlier_ones_still_decode():
    codec = EncryptionCodec([NEW.encode()])
    states = {f"state{i}": {"nextNode": f"state{i + 1}"} for i in range(200)}
    large = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps({"definition": states}).encode())
    small = Payload(metadata={"encoding": b"json/plain"}, data=b'{"ok": 1}')
    assert len(large.SerializeToString()) >= COMPRESS_FROM_BYTES > len(small.SerializeToString())
    encoded_large, encoded_small = asyncio.run(codec.encode([large, small]))
    assert encoded_large.metadata[COMPRESSION] == b"zlib" and COMPRESSION not in encoded_small.metadata
    assert len(encoded_large.data) < len(large.data) / 2  # what Temporal stores: the JSON shrank before encryption
    assert asyncio.run(codec.decode([encoded_large, encoded_small])) == [large, small]
    # Written before compression (encrypted whole, no flag): read as before.
    earlier = Payload(metadata={"encoding": ENCODING, KEY_ID: key_id(NEW.encode()).encode()},
                      data=Fernet(NEW.encode()).encrypt(large.SerializeToString()))
    assert asyncio.run(codec.decode([earlier]))[0] == large
    # The flag is metadata, outside the encryption: flipping it on an uncompressed payload fails, never misreads.
    earlier.metadata[COMPRESSION] = b"zlib"
    with pytest.raises(ValueError, match="marked compressed"):
        asyncio.run(codec.decode([earlier]))


def test_sealing_covers_copies_and_reveals_back(settings):
    settings.DRIFT_SECRET_KEYS = [NEW]
    document = {"customer": {"phone": "+1-555-0100", "id": "c1"}, "nodeParameters": {"phone": "+1-555-0100"},
                "note": "call +1-555-0100 today", "count": 5550100, "ok": True, "list": ["+1-555-0100", 2]}
    run = SealedRun("acme", "run-1")
    sealed = seal(document, ["+1-555-0100", "5550100"], run)
    assert "555-0100" not in str(sealed) and sealed["customer"]["id"] == "c1" and sealed["ok"] is True
    assert mask_sealed(sealed)["note"] == "***" and mask_sealed(sealed)["count"] == "***"
    assert unseal(sealed, run) == document
    assert seal(document, [], run) is document
    forged = {"x": {"$sealed": "not-a-token"}}  # a client may send this shape: revealing it must not fail
    assert unseal(forged, run) == forged
