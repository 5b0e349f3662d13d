"""`{{secret:name}}` references in HTTP components, and their resolution (inside the HTTP activity only).
No Django at import time: node types import this module.

For a dry-run or any other preview: leave the references unresolved (`find_references` lists them) and
`redact` anything that may hold resolved values with `resolved.values`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

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


@dataclass
class SecretResolver:
    """Resolves references for one tenant, remembering each value so callers can redact them afterwards."""

    tenant: str
    values: dict[str, str] = field(default_factory=dict)

    def value(self, name: str) -> str:
        from apps.secrets.redaction import add_redacted
        from apps.secrets.selectors import secret_value

        if name not in self.values:
            self.values[name] = secret_value(tenant=self.tenant, name=name)
            add_redacted([self.values[name]])
        return self.values[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            return REFERENCE.sub(lambda match: self.value(match.group(1)), value)
        if isinstance(value, dict):
            return {self.resolve(key): self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(self.values.values())
