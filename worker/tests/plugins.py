"""The registry lines of the test-only types, one module each: PICK (computes an output), QUOTE (remote, with
mocks), APPROVAL (suspends the run until resumed), TALLY (a state type). Tests register them for their duration;
the session's closing replay (devtools/pytest_services.py) registers them again, since their runs were recorded
with them (a QUOTE runs as a regular activity, a TALLY state as no activity: unregistered, both would differ)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from apps.definitions.state_types import STATE_TYPES
from apps.nodes import registry
from worker import kinds
from worker.tests import approval_type, pick_type, quote_type, tally_state

NODE_TYPE_MODULES = (pick_type, quote_type, approval_type)
STATE_TYPE_MODULES = (tally_state,)


@contextmanager
def node_type(module: ModuleType) -> Iterator[None]:
    registry.register(module.NODE_TYPE)  # the one registry line
    try:
        yield
    finally:
        del registry.NODE_TYPES[module.NODE_TYPE.name]


@contextmanager
def state_type(module: ModuleType) -> Iterator[None]:
    kinds.register_state(module)  # the one registry line
    try:
        yield
    finally:
        del kinds.STATE_KINDS[module.TYPE], STATE_TYPES[module.TYPE]


def register_for_replay() -> None:
    """Every test-only type not registered yet (after the tests: nothing else sees them any more)."""
    for module in NODE_TYPE_MODULES:
        if module.NODE_TYPE.name not in registry.NODE_TYPES:
            registry.register(module.NODE_TYPE)
    for module in STATE_TYPE_MODULES:
        if module.TYPE not in kinds.STATE_KINDS:
            kinds.register_state(module)
