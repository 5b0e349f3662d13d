"""Fixtures local to the definition tests: a fresh definition cache, the spec's sample documents, and `api` as a
key of tenant `acme` with the definitions scope only."""

import json

import pytest
from rest_framework.test import APIClient

from apps.definitions.cache import definition_cache
from devtools.testing.definitions import SAMPLES
from devtools.testing.tenancy import key_client


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The shared Redis outlives each test's rolled-back database; cached versions would leak across tests.
    definition_cache.clear()
    yield
    definition_cache.clear()


@pytest.fixture
def sample_nodes() -> list[dict]:
    return json.loads((SAMPLES / "order_status.nodes.json").read_text())


@pytest.fixture
def sample_workflow() -> dict:
    return json.loads((SAMPLES / "order_status.workflow.json").read_text())


@pytest.fixture
def api(db) -> APIClient:
    return key_client("acme", ["definitions"])
