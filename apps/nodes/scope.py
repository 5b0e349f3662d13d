"""ScriptScope: the names a node's scripts see (`_global`, `_enum_store`, `nodeParameters`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.paths import lookup


@dataclass
class ScriptScope:
    """The run context as scripts see it. `node_parameters` defaults to `_global["nodeParameters"]`."""

    context: dict[str, Any] = field(default_factory=dict)
    enum_store: dict[str, Any] = field(default_factory=dict)
    node_parameters: dict[str, Any] | None = None
    tenant: str = ""  # whose script runs (fair share of the sandbox pool) and whose secrets an HTTP node may use

    def parameters(self) -> dict[str, Any]:
        if self.node_parameters is not None:
            return self.node_parameters
        return self.context.get("nodeParameters") or {}

    def names(self, **extra: Any) -> dict[str, Any]:
        """Script names; `extra` adds e.g. `_response` for HTTP transformers."""
        return {"_global": self.context, "_enum_store": self.enum_store, "nodeParameters": self.parameters(), **extra}

    def lookup(self, dotted_path: str) -> Any:
        """`a.b.0.c` (or `$.a.b`) inside `_global`; None when any step is missing."""
        return lookup(self.context, dotted_path)
