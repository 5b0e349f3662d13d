"""Fixtures of the operations tests: the runtime API's sample workflow (its order service) and REST helpers."""

from apps.runs.tests.conftest import oms, samples  # noqa: F401 - fixtures shared with the runtime API tests
