"""Sealing: sensitive values at rest (context store, the Run's start request) as encrypted envelopes.

`seal` replaces every string that contains a sensitive value (and every number equal to one) by
`{"$sealed": "<Fernet token of its JSON>"}`, wherever it sits: a copy under `nodeParameters` or a node output
is sealed like the original. `unseal` gives the clear document back (reveal, rerun, redrive); `mask_sealed`
shows envelopes as `***` (every other reader).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from apps.secrets.crypto import InvalidToken, secrets_cipher
from apps.secrets.redaction import MASK, contains

SEALED = "$sealed"


def _is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(SEALED), str)


def _leaf_is_sensitive(value: Any, values: tuple[str, ...]) -> bool:
    if isinstance(value, str):
        return contains(value, values)
    return isinstance(value, int | float) and not isinstance(value, bool) and str(value) in values


def seal(document: Any, values: Iterable[str]) -> Any:
    values = tuple(values)
    if not values:
        return document
    if isinstance(document, dict) and not _is_sealed(document):
        return {key: seal(item, values) for key, item in document.items()}
    if isinstance(document, list):
        return [seal(item, values) for item in document]
    if _leaf_is_sensitive(document, values):
        return {SEALED: secrets_cipher().encrypt(json.dumps(document).encode()).decode()}
    return document


def _walk(document: Any, leaf: Any) -> Any:
    if _is_sealed(document):
        return leaf(document[SEALED])
    if isinstance(document, dict):
        return {key: _walk(item, leaf) for key, item in document.items()}
    if isinstance(document, list):
        return [_walk(item, leaf) for item in document]
    return document


def _open(token: str) -> Any:
    try:
        return json.loads(secrets_cipher().decrypt(token.encode()))
    except InvalidToken:  # not ours (a client sent this shape) or a dropped key: shown as stored
        return {SEALED: token}


def unseal(document: Any) -> Any:
    return _walk(document, _open)


def mask_sealed(document: Any) -> Any:
    return _walk(document, lambda token: MASK)


def is_sealed_anywhere(document: Any) -> bool:
    return json.dumps(document, default=str).find(f'"{SEALED}"') >= 0
