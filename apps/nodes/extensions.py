"""Extension points of the nodes app: the token provider (settings hold its dotted path) and the secret store
(registered by apps.secrets in its AppConfig.ready(): node types sit below the secrets app and import nothing
from it)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from apps.nodes.scope import ScriptScope


class TokenProvider(Protocol):
    def headers(self, node: dict, scope: ScriptScope) -> dict[str, str]: ...


class NoTokenProvider:
    """Default token provider: adds no headers."""

    def headers(self, node: dict, scope: ScriptScope) -> dict[str, str]:
        return {}


@functools.lru_cache(maxsize=8)
def _load(path: str) -> TokenProvider:
    from django.utils.module_loading import import_string

    return import_string(path)()


def token_provider() -> TokenProvider:
    """The configured provider (settings.DRIFT_TOKEN_PROVIDER), instantiated once per path."""
    from apps.nodes import settings

    return _load(settings.token_provider_path())


@dataclass(frozen=True)
class SecretStore:
    """How node types reach the tenant's secrets, and the cipher of what they keep in shared caches."""

    value: Callable[[str, str], str]  # (tenant, name) -> the clear value; raises SecretUnavailable
    encrypt: Callable[[bytes], bytes]
    decrypt: Callable[[bytes], bytes]


class SecretStoreMissing(RuntimeError):
    """A node needs a secret and no app registered a store: a setup error, never a silent empty value."""


_secret_store: SecretStore | None = None


def register_secret_store(store: SecretStore | None) -> None:
    """Install the store (the last registration wins); None removes it."""
    global _secret_store
    _secret_store = store


def secret_store() -> SecretStore:
    if _secret_store is None:
        raise SecretStoreMissing("no secret store is registered: apps.secrets registers it in its AppConfig.ready() "
                                 "(is it in INSTALLED_APPS?)")
    return _secret_store


def secret_value(tenant: str, name: str) -> str:
    """The registered store's value (the lookup of a `SecretResolver`)."""
    return secret_store().value(tenant, name)
