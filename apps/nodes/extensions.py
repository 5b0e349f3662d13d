"""Extension points of the nodes app (settings hold dotted paths to these classes)."""

from __future__ import annotations

import functools
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
