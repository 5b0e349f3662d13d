"""`{{secret:name}}` references in HTTP components, and their resolution (inside the HTTP activity only).
Plain Python: the values come from the `lookup` a resolver is given (apps/nodes/extensions.py `secret_store`,
which apps.secrets registers), so node types reach no secrets app.

For a dry-run or any other preview: leave the references unresolved (`find_references` lists them) and
`redact` anything that may hold resolved values with `resolved.secrets`.

Only the definition's own text may reference a secret: run data (`_global`, node parameters) is `shield`ed
before the scripts run, so a customer name of `{{secret:x}}` reaches the destination as that text.
"""

from __future__ import annotations

import re
import secrets as random_tokens
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from core.redaction import add_redacted

NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,100}$"
REFERENCE = re.compile(r"\{\{\s*secret:([^}\s]*)\s*\}\}")
_NAME = re.compile(NAME_PATTERN)


class SecretUnavailable(Exception):
    """A referenced secret is missing or cannot be decrypted; the message names it, never a value."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"secret '{name}' {problem}")
        self.name = name


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def find_references(value: Any) -> list[str]:
    """Secret names referenced anywhere in `value` (keys included), in order of appearance."""
    return list(dict.fromkeys(name for text in _strings(value) for name in REFERENCE.findall(text)))


def is_reference(text: Any) -> bool:
    return isinstance(text, str) and REFERENCE.fullmatch(text.strip()) is not None


def bad_reference_names(value: Any) -> list[str]:
    return [name for name in find_references(value) if not _NAME.match(name)]


def _map_strings(value: Any, change: Any) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {change(str(key)): _map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, change) for item in value]
    return value


@dataclass
class SecretResolver:
    """Resolves references for one tenant, remembering each value (and each credential derived from one) so
    callers can redact them afterwards."""

    tenant: str
    # (tenant, name) -> the secret's clear value; raises SecretUnavailable.
    lookup: Callable[[str, str], str]
    values: dict[str, str] = field(default_factory=dict)
    derived: list[str] = field(default_factory=list)
    # Shielded references in run data read `{{secret<nonce>:x}}`: a fresh nonce per call, so data cannot forge it.
    nonce: str = field(default_factory=lambda: random_tokens.token_hex(8))

    def value(self, name: str) -> str:
        if name not in self.values:
            self.values[name] = self.lookup(self.tenant, name)
            add_redacted([self.values[name]])
        return self.values[name]

    def derive(self, credential: str) -> str:
        """Register a credential built from secrets (a Basic value, an OAuth2 token) for masking; returns it."""
        if credential not in self.derived:
            self.derived.append(credential)
            add_redacted([credential])
        return credential

    def shield(self, data: Any) -> Any:
        """Run data with its reference-shaped text made inert (`resolve` turns it back into the text)."""
        if not any(REFERENCE.search(text) for text in _strings(data)):
            return data  # the usual case: nothing to copy
        marker = f"secret{self.nonce}:"
        return _map_strings(data, lambda text: REFERENCE.sub(lambda m: m.group(0).replace("secret:", marker, 1),
                                                             text))

    def resolve(self, value: Any) -> Any:
        """References of the definition's text replaced by their values; shielded run data back to its text."""
        marker = f"secret{self.nonce}:"
        return _map_strings(value, lambda text: REFERENCE.sub(lambda match: self.value(match.group(1)), text)
                            .replace(marker, "secret:"))

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value to mask, longest first (a value containing another is masked whole)."""
        return tuple(sorted({*self.values.values(), *self.derived}, key=len, reverse=True))
