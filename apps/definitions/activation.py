"""The test-case gate of activation: a workflow version with test cases becomes ACTIVE only once they pass.

Running the cases is the trials app's (it drives the engine, above this layer): it registers its gate here in its
AppConfig.ready(), so this app imports nothing from it. A version with cases and no registered gate is refused
loudly, never activated untested.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured

from core.problems import Problem


@dataclass(frozen=True)
class CasesVerdict:
    """One run of a version's cases: the stored report (an activation's audit entry names it), how many cases
    ran, and one problem per failing case (`$.tests[i]`)."""

    report_id: int
    total: int
    failures: list[Problem]


class CasesGate(Protocol):
    def __call__(self, *, tenant: str, key: str, version: int, actor: str) -> CasesVerdict: ...


class CasesGateMissing(ImproperlyConfigured):
    """A version has test cases and nothing can run them: a setup error, not a reason to skip them."""


_gate: CasesGate | None = None


def register_cases_gate(gate: CasesGate | None) -> None:
    """Install the gate (the last registration wins); None removes it."""
    global _gate
    _gate = gate


def cases_gate() -> CasesGate:
    if _gate is None:
        raise CasesGateMissing("no test-case gate is registered: apps.trials registers it in its AppConfig.ready() "
                               "(is it in INSTALLED_APPS?)")
    return _gate
