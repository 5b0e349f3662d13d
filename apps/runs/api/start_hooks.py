"""The hook of POST /v3/workflow/start for an `Idempotency-Key` header (spec §10).

The keys are kept by apps.operations, which sits above apps.runs: it registers its idempotent start here in its
AppConfig.ready, so the start view reaches it without importing it (import-linter forbids that import).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from apps.runs.runtime import Reply

IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass(frozen=True)
class IdempotentStart:
    key_parse: Callable[[dict[str, Any]], str | None]  # request.META -> the key (None: no header; 400: malformed)
    start: Callable[..., Reply]  # (principal=, data=, key=, raw_body=) -> the first run's reply


_hooks: list[IdempotentStart] = []


def idempotent_start_register(hook: IdempotentStart) -> None:
    """Set the idempotent start (one: a second registration replaces the first)."""
    _hooks[:] = [hook]


def idempotent_start() -> IdempotentStart:
    """The registered idempotent start; a deployment without apps.operations is refused loudly, since a
    client's key would otherwise be ignored without notice."""
    if not _hooks:
        raise ImproperlyConfigured("No idempotent start registered: add apps.operations to INSTALLED_APPS.")
    return _hooks[0]

